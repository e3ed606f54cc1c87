"""Embedding a worker in an application or a script: no config entry needed, settings
passed to the constructor, burst mode, start/stop in the background, the asyncio worker as
an async context manager; and the `unserved` alert when nobody serves a user's work."""

from __future__ import annotations

import asyncio

import pytest

from fairque import AsyncWorker, FairQueueConfig, Task, TaskQueue, Worker, WorkerConfig
from fairque.core.exceptions import ConfigError
from fairque.monitoring import Inspector


def push(config: FairQueueConfig, *users: str) -> list[str]:
    with TaskQueue(config) as q:
        return [q.push(Task.create(u, payload=i)).task_id for i, u in enumerate(users)]


def states(config: FairQueueConfig, ids: list[str]) -> list[str]:
    with TaskQueue(config) as q:
        return [str(q.get_task(t).state) for t in ids]


@pytest.mark.parametrize("worker_kind", ["sync", "async"])
def test_a_worker_without_a_config_entry_serves_everyone_in_burst(make_config, worker_kind):
    config = make_config()
    assert config.workers == []
    ids = push(config, "a", "b", "c", "a")
    if worker_kind == "sync":
        worker = Worker(config, lambda task: task.payload)
        worker.run(burst=True)  # returns once nothing is left
    else:
        worker = AsyncWorker(config, lambda task: task.payload)
        asyncio.run(worker.run(burst=True))
    assert states(config, ids) == ["completed"] * 4
    assert worker.config.workers[0].steal_targets == "*"
    assert worker.worker_id.endswith(f"-{__import__('os').getpid()}")


def test_scope_and_identity_come_from_the_constructor(make_config):
    config = make_config()
    ids = push(config, "mine", "other")
    worker = Worker(config, lambda t: "ok", worker_id="embedded", assigned_users=["mine"],
                    concurrency=3)  # fmt: skip
    assert worker.worker_id == "embedded" and worker.core.settings.concurrency == 3
    worker.run(burst=True)
    assert states(config, ids) == ["completed", "ready"]  # assigned only: "other" waits


def test_an_entry_with_no_users_serves_everyone_and_several_need_an_id(make_config):
    assert WorkerConfig(id="w").steal_targets == "*"
    assert WorkerConfig(id="w", assigned_users=["a"]).steal_targets == []
    config = make_config(workers=[{"id": "w1"}, {"id": "w2"}])
    with pytest.raises(ConfigError, match="choose a worker id"):
        Worker(config, lambda t: None)
    with pytest.raises(ConfigError, match="concurrency"):
        Worker(make_config(), lambda t: None, concurrency=0)


def test_start_and_stop_in_the_background(make_config):
    config = make_config()
    with Worker(config, lambda task: task.payload * 2) as worker, TaskQueue(config) as q:
        task = q.push(Task.create("u1", payload=21))
        assert q.result(task.task_id, timeout=10) == 42
    assert worker.join(0) and worker.health().status == "stopped"


def test_the_asyncio_worker_runs_inside_an_async_with(make_config):
    config = make_config()

    async def handler(task: Task) -> int:
        return task.payload + 1

    async def app() -> int:
        async with AsyncWorker(config, handler, concurrency=4):
            from fairque import AsyncTaskQueue

            async with AsyncTaskQueue(config) as q:
                pushed = await q.push(Task.create("u1", payload=1))
                return int(await q.result(pushed.task_id, timeout=10))

    assert asyncio.run(app()) == 2


def test_ready_work_nobody_serves_raises_the_unserved_alert(make_config):
    config = make_config()
    push(config, "orphan", "orphan")
    with Inspector(config) as ins:
        alerts = [a for a in ins.alerts() if a.rule == "unserved"]
    assert [(a.subject, a.value, a.severity) for a in alerts] == [("orphan", 2.0, "critical")]
    assert "no worker is running" in alerts[0].message
    # A worker assigned someone else registers: still nobody serves "orphan".
    with TaskQueue(config.with_worker("picky", assigned_users=["x"])[0], worker_id="picky") as w:
        assert w.pop() is None
        with Inspector(config) as ins:
            assert [a.subject for a in ins.alerts() if a.rule == "unserved"] == ["orphan"]
    # One that serves everyone clears it.
    with TaskQueue(config.with_worker("all")[0], worker_id="all") as w:
        assert w.pop() is not None
        with Inspector(config) as ins:
            assert [a for a in ins.alerts() if a.rule == "unserved"] == []
