"""Batch handlers on a real server, with the thread worker and the asyncio worker: a batch
holds tasks of one user (or of any, with ``batch_by="handler"``), at most ``batch_size`` of
them; each task is acknowledged on its own (a result each, an exception instance fails one
task); a raise or a broken return fails them all; every task is popped and charged."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from fairque import AsyncWorker, Task, TaskQueue, TaskState, Worker, task
from fairque.worker import HandlerRegistry


def run_burst(config: Any, handlers: HandlerRegistry, kind: str, concurrency: int = 2) -> None:
    settings: dict[str, Any] = {"handlers": handlers, "concurrency": concurrency}
    if kind == "sync":
        Worker(config, **settings).run(burst=True)
    else:
        asyncio.run(AsyncWorker(config, **settings).run(burst=True))


def batch_registry(
    size: int, by: str = "user", wait: float = 0.2, fail_on: int | None = None
) -> tuple[HandlerRegistry, list[list[Task]]]:
    """A registry with the batch handler "index" (sync), and the batches it was called with."""
    registry = HandlerRegistry()
    seen: list[list[Task]] = []
    lock = threading.Lock()

    @task("index", into=registry, batch_size=size, batch_wait=wait, batch_by=by)  # type: ignore[arg-type]
    def index(tasks: list[Task]) -> list[Any]:
        with lock:
            seen.append(tasks)
        return [ValueError("no") if t.payload == fail_on else t.payload * 2 for t in tasks]

    return registry, seen


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_batches_hold_one_users_tasks_and_each_is_acknowledged(make_config, kind):
    config = make_config(queue={"max_attempts": 1})
    registry, seen = batch_registry(10, fail_on=7)
    with TaskQueue(config) as q:
        q.push_batch([Task.create("a", 3, i, task_id=f"a{i}", handler="index") for i in range(25)])
        q.push_batch([Task.create("b", 3, i, task_id=f"b{i}", handler="index") for i in range(8)])
        run_burst(config, registry, kind)
        assert all(len({t.user_id for t in b}) == 1 for b in seen)  # one user per batch
        assert max(len(b) for b in seen) == 10 and sum(len(b) for b in seen) == 33
        assert len(seen) < 33 // 2  # batches, not single runs
        a3, a7 = q.get_task("a3"), q.get_task("a7")
        assert (a3.state, a3.result) == (TaskState.COMPLETED, 6)
        assert a7.state == TaskState.DEAD and a7.error_type == "ValueError"  # that task only
        assert q.get_task("b6").result == 12 and q.get_task("b7").state == TaskState.DEAD
        counters = q.stats().counters  # each task popped (charged) and acknowledged on its own
        assert (counters["popped"], counters["completed"], counters["dead"]) == (33, 31, 2)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_raise_or_a_broken_return_fails_every_task_of_the_batch(make_config, kind):
    config = make_config(queue={"max_attempts": 1})
    registry = HandlerRegistry()

    @task("boom", into=registry, batch_size=4, batch_wait=0.1)
    async def boom(tasks: list[Task]) -> list[Any]:
        raise RuntimeError("the whole batch")

    @task("short", into=registry, batch_size=4, batch_wait=0.1)
    def short(tasks: list[Task]) -> list[Any]:
        return [1]  # one result for several tasks: a broken contract

    with TaskQueue(config) as q:
        q.push_batch([Task.create("u", 3, i, task_id=f"x{i}", handler="boom") for i in range(4)])
        q.push_batch([Task.create("u", 3, i, task_id=f"s{i}", handler="short") for i in range(4)])
        run_burst(config, registry, kind)
        for i in range(4):
            x, s = q.get_task(f"x{i}"), q.get_task(f"s{i}")
            assert x.state == TaskState.DEAD and x.error == "the whole batch"
            assert s.state == TaskState.DEAD and "1 for 4 tasks" in s.error


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_batch_by_handler_mixes_users_and_a_partial_batch_runs_after_its_wait(make_config, kind):
    config = make_config()
    registry, seen = batch_registry(50, by="handler", wait=0.3)
    with TaskQueue(config) as q:
        q.push_batch([Task.create(f"u{i % 3}", 3, i, handler="index") for i in range(9)])
        run_burst(config, registry, kind, concurrency=4)
    assert sum(len(b) for b in seen) == 9
    assert any(len({t.user_id for t in b}) > 1 for b in seen)  # users mixed
    assert all(len(b) < 50 for b in seen)  # never full: each ran after its wait


def test_bad_batch_settings_are_refused():
    from fairque import FairQueueError

    for bad in ({"batch_size": 0}, {"batch_size": 10, "batch_wait": -1},
                {"batch_size": 2, "batch_by": "tenant"}):  # fmt: skip
        with pytest.raises(FairQueueError):
            task("x", into=HandlerRegistry(), **bad)  # type: ignore[arg-type]
