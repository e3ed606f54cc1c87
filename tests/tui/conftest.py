"""The TUI tests' shared fixture: a queue seeded with users, dead tasks, a schedule and a live
worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.scheduler import ScheduledTask, TaskScheduler
from fairque.worker import Worker


@pytest.fixture
def seeded(make_config) -> Iterator[FairQueueConfig]:
    """Users a, b and c with work, three dead tasks, a schedule and a live worker."""
    config = make_config(queue={"max_attempts": 1})
    # The worker serves only "nobody": it shows in the Workers screen, and takes nothing.
    wconfig = make_config(
        queue={"max_attempts": 1},
        workers=[{"id": "tui-w1", "assigned_users": ["nobody"], "concurrency": 1}],
    )
    with TaskQueue(config) as q:
        for i, error in enumerate(["boom", "boom", "other"]):  # the DLQ first, alone
            q.push(Task.create("e", 3, {"i": i}, task_id=f"dead{i}"))
            q.fail(q.pop(), RuntimeError(error))
        q.push_batch([Task.create("a", 3, {"n": i}, task_id=f"a{i}") for i in range(5)])
        q.push_batch([Task.create("b", 3, {"n": i}, task_id=f"b{i}") for i in range(3)])
        q.push(Task.create("c", 6, {"n": 0}, task_id="c0"))
        q.push_batch([Task.create("d", 2, {"n": i}, task_id=f"d{i}") for i in range(2)])
        sched = TaskScheduler(config, queue=q)
        sched.add(ScheduledTask(name="nightly", cron="0 3 * * *", user_id="reports"))
        worker = Worker(wconfig, lambda task: None, worker_id="tui-w1")
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:
            yield config
        finally:
            worker.stop()
            thread.join(10)
