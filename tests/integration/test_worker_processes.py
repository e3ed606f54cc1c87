"""Real worker processes, real signals: SIGKILL, SIGSTOP/SIGCONT and SIGTERM (sync and async)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from fairque import Task, TaskQueue
from tests.support.handlers import read_ledger
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def spawn(server_url, queue_name, mode, tmp_path):
    procs: list[subprocess.Popen[bytes]] = []
    ledger = tmp_path / "ledger.txt"

    def start(worker_id: str, *extra: str, lease: float = 1.0) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "FAIRQUE_TEST_LEDGER": str(ledger),
            "FAIRQUE_QUEUE__VISIBILITY_TIMEOUT": str(lease),
            "FAIRQUE_QUEUE__RETRY_BASE_SECONDS": "0.05",
        }
        cmd = [
            sys.executable, "-m", "fairque.cli", "--redis-url", server_url, "--queue", queue_name,
            "worker", "--handler", "tests.support.handlers:record", "--worker-id", worker_id,
            *(["--async"] if mode == "async" else []), *extra,
        ]  # fmt: skip
        log = open(tmp_path / f"{worker_id}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        procs.append(proc)
        return proc

    start.ledger = ledger  # type: ignore[attr-defined]
    yield start
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGCONT)
            p.kill()
        p.wait(10)


@pytest.fixture
def queue(make_config):
    with TaskQueue(make_config()) as q:
        yield q


def events(ledger, event, pid=None):
    return [
        r[1] for r in read_ledger(str(ledger)) if r[0] == event and (pid is None or r[2] == pid)
    ]


def test_sigkill_loses_nothing_and_duplicates_only_what_was_in_flight(spawn, queue):
    n = 400
    queue.push_batch(
        [Task.create(f"u{i % 8}", 3, {"sleep": 0.02}, task_id=f"t{i}") for i in range(n)]
    )
    a = spawn("wA", "--concurrency", "4")
    b = spawn("wB", "--concurrency", "4")
    wait_for(lambda: len(events(spawn.ledger, "done", a.pid)) >= 40)
    a.kill()  # SIGKILL, holding tasks
    a.wait(5)
    started_by_a = set(events(spawn.ledger, "start", a.pid))
    wait_for(lambda: queue.stats().counters.get("completed", 0) >= n, timeout=60)
    done = Counter(events(spawn.ledger, "done"))
    lost = [f"t{i}" for i in range(n) if done[f"t{i}"] == 0]
    duplicated = {t for t, c in done.items() if c > 1}
    phantom = set(done) - {f"t{i}" for i in range(n)}
    assert lost == [] and phantom == set()
    # Only what A held at the kill can run twice: at most its concurrency.
    assert duplicated <= started_by_a and len(duplicated) <= 4
    assert all(queue.get_task(f"t{i}").state == "completed" for i in range(n))
    assert queue.stats().counters["completed"] == n
    b.send_signal(signal.SIGTERM)
    assert b.wait(10) == 0


def test_sigstop_past_the_lease_then_sigcont_completes_each_task_once(spawn, queue):
    queue.push_batch([Task.create("u1", 3, {"sleep": 0.5}, task_id=f"s{i}") for i in range(4)])
    a = spawn("wA", "--concurrency", "1")
    first = wait_for(lambda: events(spawn.ledger, "start", a.pid))[0]
    a.send_signal(signal.SIGSTOP)
    b = spawn("wB", "--concurrency", "1")
    time.sleep(3.0)  # three leases
    a.send_signal(signal.SIGCONT)
    wait_for(lambda: queue.stats().counters.get("completed", 0) >= 4)
    time.sleep(1.0)  # give A time to try its late acknowledgement
    counters = queue.stats().counters
    assert counters["completed"] == 4  # every task completed exactly once
    assert queue.get_task(first).result["pid"] == b.pid  # B's run counted, not A's
    assert counters.get("expired", 0) >= 1
    for p in (a, b):
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0


def test_sigterm_acks_finished_tasks_and_hands_back_the_rest_within_a_second(spawn, queue):
    queue.push_batch(
        [Task.create("u1", 3, {"sleep": 0.2}, task_id=f"short{i}") for i in range(2)]
        + [Task.create("u2", 3, {"sleep": 60}, task_id=f"long{i}") for i in range(2)]
    )
    a = spawn("wA", "--concurrency", "4", "--grace", "0.4")
    wait_for(lambda: len(events(spawn.ledger, "start", a.pid)) == 4)
    t0 = time.monotonic()
    a.send_signal(signal.SIGTERM)
    wait_for(
        lambda: all(queue.get_task(f"long{i}").state == "ready" for i in range(2)), timeout=1.0
    )
    assert time.monotonic() - t0 <= 1.0
    assert all(queue.get_task(f"short{i}").state == "completed" for i in range(2))
    assert all(queue.get_task(f"long{i}").attempts == 0 for i in range(2))
    assert a.wait(5) == 0
    assert queue.stats().inflight == 0


def test_failing_tasks_reach_the_dlq_and_a_requeue_runs_them_again(spawn, queue, make_config):
    queue.push(Task.create("u1", 3, {"fail": True}, task_id="doomed", max_attempts=2))
    a = spawn("wA")
    entry = wait_for(queue.dlq)[0]
    assert entry.error == "asked to fail: doomed" and entry.error_type == "RuntimeError"
    assert entry.attempts == 2
    assert len(events(spawn.ledger, "start")) == 2
    a.send_signal(signal.SIGTERM)
    a.wait(10)
    assert queue.requeue_dead(["doomed"]) == 1
    assert queue.get_task("doomed").state == "ready"
    b = spawn("wB")
    wait_for(lambda: len(events(spawn.ledger, "start", b.pid)) >= 1)
    b.send_signal(signal.SIGTERM)
    b.wait(10)


def test_bad_handler_spec_is_a_usage_error(server_url, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "fairque.cli", "--redis-url", server_url, "worker",
         "--handler", "no_such_module_xyz:fn"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "cannot import 'no_such_module_xyz'" in proc.stderr
    assert "Traceback" not in proc.stderr
