"""R2 (SIGSTOP past the lease, then SIGCONT) and R4 (SIGTERM with tasks running), with real
worker processes, sync and async."""

from __future__ import annotations

import signal
import time

import pytest

from fairque import Task, TaskQueue
from tests.support.ledger import read_ledger, report, tally
from tests.support.processes import WorkerProcesses
from tests.support.waiting import wait_for


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def workers(server_url, queue_name, mode, tmp_path):
    procs = WorkerProcesses(
        server_url,
        queue_name,
        tmp_path,
        mode=mode,
        settings={"QUEUE__VISIBILITY_TIMEOUT": "1", "QUEUE__RETRY_BASE_SECONDS": "0.05"},
    )
    yield procs
    procs.stop_all()


@pytest.fixture
def queue(make_config):
    with TaskQueue(make_config()) as q:
        yield q


def test_r2_sigstop_past_the_lease_then_sigcont_completes_each_task_once(workers, queue, mode):
    ids = [f"s{i}" for i in range(4)]
    # A must be stopped in the middle of its run of s0 (the first in line), and on a loaded
    # machine seeing its start in the ledger and stopping it can take a good part of a
    # second: that first attempt takes 2 s. Every other run takes 0.3 s, so it needs few
    # heartbeats to keep its 1 s lease on a loaded machine.
    payloads = [{"first_sleep": 2.0, "sleep": 0.3}] + [{"sleep": 0.3}] * 3
    queue.push_batch(
        [Task.create("u1", 3, p, task_id=t) for t, p in zip(ids, payloads, strict=True)]
    )
    a = workers.start("wA", "--concurrency", "1")
    first = wait_for(lambda: workers.events("start", a.pid))[0]
    assert first == "s0"
    a.send_signal(signal.SIGSTOP)
    assert first not in workers.events("done", a.pid)  # stopped mid-run, as the test needs
    b = workers.start("wB", "--concurrency", "1")
    time.sleep(3.0)  # three leases
    a.send_signal(signal.SIGCONT)
    wait_for(lambda: queue.stats().counters.get("completed", 0) >= 4, timeout=40)
    time.sleep(2.5)  # give A time to finish its stalled run and try its late acknowledgement
    counters = queue.stats().counters
    # The ledger counts runs: A's stalled run finished after B had run the task again.
    t = tally(workers.events("done"), ids)
    report(
        f"R2 SIGSTOP 3 leases ({mode})",
        t,
        f"completed by the queue {counters['completed']} of 4, expired {counters['expired']}",
    )
    assert t.lost == set() and t.phantom == set() and t.duplicated <= {first}
    assert counters["completed"] == 4  # every task completed exactly once
    # The result stored is the rerun's (by B, or by A once it was free again), never that of
    # A's stalled first run, whose late acknowledgement was refused.
    runs = [r for r in read_ledger(workers.ledger) if r.event == "start" and r.task_id == first]
    assert len(runs) == 2
    assert float(queue.get_task(first).result["started"]) == pytest.approx(runs[1].at, abs=1e-3)
    assert counters.get("expired", 0) >= 1
    for p in (a, b):
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0


def test_r4_sigterm_acks_finished_tasks_and_hands_back_the_rest_within_a_second(
    workers, queue, mode
):
    short, long = ["short0", "short1"], ["long0", "long1"]
    queue.push_batch(
        [Task.create("u1", 3, {"sleep": 0.2}, task_id=t) for t in short]
        + [Task.create("u2", 3, {"sleep": 60}, task_id=t) for t in long]
    )
    a = workers.start("wA", "--concurrency", "4", "--grace", "0.4")
    wait_for(lambda: len(workers.events("start", a.pid)) == 4)
    t0 = time.monotonic()
    a.send_signal(signal.SIGTERM)
    wait_for(lambda: all(queue.get_task(t).state == "ready" for t in long), timeout=1.0)
    handed_back = time.monotonic() - t0
    t = tally(workers.events("done"), short)
    report(f"R4 SIGTERM, grace 0.4 s ({mode})", t, f"long tasks ready after {handed_back:.2f} s")
    assert handed_back <= 1.0
    assert t == tally(short, short)  # each short task ran to the end once
    assert all(queue.get_task(x).state == "completed" for x in short)
    assert all(queue.get_task(x).attempts == 0 for x in long)
    assert a.wait(5) == 0
    assert queue.stats().inflight == 0
