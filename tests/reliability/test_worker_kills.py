"""R1: 2,000 tasks, 4 worker processes, a random worker SIGKILLed 10 times (and replaced):
nothing lost, every task completed, duplicates only among what the killed workers held."""

from __future__ import annotations

import os

import pytest

from fairque import Task, TaskQueue
from tests.support.ledger import read_ledger, report, tally
from tests.support.processes import WorkerProcesses
from tests.support.waiting import wait_for

SCALE = int(os.environ.get("FAIRQUE_RELIABILITY_SCALE", "1"))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sigkill_workers_ten_times(server_url, queue_name, make_config, tmp_path, mode):
    n, kills, concurrency = 2000 * SCALE, 10 * SCALE, 4
    config = make_config()  # on the cluster pass (FAIRQUE_TEST_CLUSTER=1) too
    workers = WorkerProcesses(
        server_url,
        queue_name,
        tmp_path,
        mode=mode,
        settings={
            "QUEUE__VISIBILITY_TIMEOUT": "1",
            "QUEUE__RETRY_BASE_SECONDS": "0.05",
            "QUEUE__MAX_ATTEMPTS": "20",
        },
    )
    with TaskQueue(config) as q:
        q.push_batch(
            [Task.create(f"u{i % 10}", 3, {"sleep": 0.02}, task_id=f"t{i}") for i in range(n)]
        )
        slots = ("--concurrency", str(concurrency))
        live = {i: workers.start(f"w{i}", *slots) for i in range(4)}
        try:
            wait_for(lambda: len(read_ledger(workers.ledger)) > 50)
            killed_pids = workers.kill_and_replace(live, kills, *slots)
            wait_for(lambda: q.stats().counters.get("completed", 0) >= n, timeout=120)
        finally:
            workers.stop_all()
        ids = {f"t{i}" for i in range(n)}
        t = tally(workers.events("done"), ids)
        # Duplicates may only be tasks a killed worker had started: one it was running, or one
        # it had finished (ledger "done") but not yet acknowledged when it died.
        rows = read_ledger(workers.ledger)
        started_by_killed = {r.task_id for r in rows if r.event == "start" and r.pid in killed_pids}
        report(
            f"R1 SIGKILL x{kills}, {n} tasks, 4 {mode} workers",
            t,
            f"bound {kills * concurrency} (kills x slots), only tasks a killed worker started",
        )
        assert t.lost == set() and t.phantom == set()
        assert t.duplicated <= started_by_killed
        assert len(t.duplicated) <= kills * concurrency
        assert q.stats().counters["completed"] == n
        assert all(q.get_task(x).state == "completed" for x in list(ids)[:200])
