"""Workers: a cancel asked from anywhere stops a running task (asyncio handlers are
cancelled, sync handlers see the flag, and a sync handler that ignores it loses its slot
after ``cancel_grace``); handlers report progress; an idle worker wakes on a push."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from fairque import (
    CancelOutcome,
    Task,
    TaskCanceled,
    TaskCanceledError,
    TaskQueue,
    TaskState,
    cancel_requested,
    current,
    progress,
)
from fairque.worker import HandlerRegistry
from tests.support.harness import Harness
from tests.support.waiting import wait_for


def one_worker(make_config, **settings):
    worker = {"id": "w1", "steal_targets": "*", "concurrency": 1, "cancel_grace": 0.3, **settings}
    return make_config(workers=[worker])


def test_an_asyncio_handler_is_cancelled_from_another_process(make_config):
    config = one_worker(make_config)
    seen: list[str] = []
    registry = HandlerRegistry()

    async def long(task):
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    registry.register("long", long)
    h = Harness("async", config, handlers=registry)
    try:
        with TaskQueue(make_config()) as q:
            q.push(Task.create("u1", payload=1, task_id="L", handler="long"))
            wait_for(lambda: q.get_task("L").state == TaskState.LEASED)
            assert q.cancel("L").outcome == CancelOutcome.REQUESTED
            with pytest.raises(TaskCanceled):
                q.result("L", timeout=20)
            info = q.get_task("L")
            assert info.attempts == 1 and q.dlq() == [] and q.stats().delayed == 0
    finally:
        h.stop()
    assert seen == ["cancelled"]


@pytest.mark.parametrize("worker_kind", ["sync", "async"])
def test_a_sync_handler_that_ignores_its_cancel_loses_its_slot(make_config, worker_kind):
    config = one_worker(make_config)
    release = threading.Event()
    registry = HandlerRegistry()
    registry.register("stuck", lambda task: release.wait(60))
    registry.register("quick", lambda task: "done")
    h = Harness(worker_kind, config, handlers=registry)
    try:
        with TaskQueue(make_config()) as q:
            q.push(Task.create("u1", payload=1, task_id="S", handler="stuck"))
            wait_for(lambda: q.get_task("S").state == TaskState.LEASED)
            q.push(Task.create("u2", payload=1, task_id="Q", handler="quick"))
            q.cancel("S")
            # One slot, held by a handler that never stops: only the cut-off frees it.
            assert q.result("Q", timeout=20) == "done"
            assert q.get_task("S").state == TaskState.CANCELED
    finally:
        release.set()
        h.stop()


@pytest.mark.parametrize("worker_kind", ["sync", "async"])
def test_a_sync_handler_stops_itself_when_it_sees_the_flag(make_config, worker_kind):
    config = one_worker(make_config, cancel_grace=30)
    registry = HandlerRegistry()

    def careful(task):
        ctx = current()
        while not ctx.wait_canceled(0.05):
            pass
        assert cancel_requested()
        raise TaskCanceledError("stopping")

    registry.register("careful", careful)
    h = Harness(worker_kind, config, handlers=registry)
    try:
        with TaskQueue(make_config()) as q:
            q.push(Task.create("u1", payload=1, task_id="C", handler="careful"))
            wait_for(lambda: q.get_task("C").state == TaskState.LEASED)
            q.cancel("C")
            with pytest.raises(TaskCanceled):
                q.result("C", timeout=20)  # long before the 30 s grace
            info = q.get_task("C")
            assert info.error_type == "TaskCanceledError" and info.error == "stopping"
    finally:
        h.stop()


@pytest.mark.parametrize("worker_kind", ["sync", "async"])
def test_progress_reported_by_a_handler_reaches_a_watcher(make_config, worker_kind):
    config = one_worker(make_config)
    registry = HandlerRegistry()
    go = threading.Event()

    def steps(task):
        for i in range(1, 4):
            go.wait(10)
            progress(i / 3, step=i)
            time.sleep(0.15)  # the worker writes the latest report each pass
        return {"steps": 3}

    registry.register("steps", steps)
    h = Harness(worker_kind, config, handlers=registry)
    try:
        with TaskQueue(make_config()) as q:
            q.push(Task.create("u1", payload=1, task_id="P", handler="steps"))

            def start_reporting() -> None:  # once the watch below is armed
                wait_for(lambda: q.client.hget(q.session.keys.task("P"), "w"))
                go.set()

            threading.Thread(target=start_reporting, daemon=True).start()
            events = list(q.watch("P", timeout=20))
    finally:
        h.stop()
    reports = [e for e in events if e.kind == "progress"]
    assert [e.note["step"] for e in reports] == [1, 2, 3][-len(reports) :] and reports
    assert events[-1].final and events[-1].info.result == {"steps": 3}
    assert events[-1].info.progress == 1.0


@pytest.mark.parametrize("worker_kind", ["sync", "async"])
def test_an_idle_worker_starts_a_push_long_before_its_next_poll(make_config, worker_kind):
    # A poll every 5 s (the most allowed): a task done within 3 s was started by the wake-up.
    config = make_config(
        redis={"socket_timeout": 10},
        workers=[{"id": "w1", "steal_targets": "*", "poll_interval": 5}],
    )
    h = Harness(worker_kind, config, handler=lambda task: task.payload * 2)
    try:
        with TaskQueue(make_config()) as q:
            time.sleep(1.0)  # the worker found nothing and waits
            for i in range(3):
                q.push(Task.create(f"u{i}", payload=i, task_id=f"idle{i}"))
                assert q.result(f"idle{i}", timeout=3) == i * 2
    finally:
        h.stop()


@pytest.mark.parametrize("worker_kind", ["sync", "async"])
@pytest.mark.parametrize(
    ("queue", "scope"),
    [
        ({"partitions": 3}, {"steal_targets": "*"}),  # users in three hash slots
        ({}, {"assigned_users": ["vip"]}),  # a worker's own pool, not the pool of everyone
    ],
    ids=["partitioned", "assigned"],
)
def test_wake_ups_reach_partitioned_and_assigned_workers(make_config, worker_kind, queue, scope):
    config = make_config(
        queue=queue,
        redis={"socket_timeout": 10},
        workers=[{"id": "w1", "poll_interval": 5, **scope}],
    )
    h = Harness(worker_kind, config, handler=lambda task: task.payload + 1)
    try:
        with TaskQueue(make_config(queue=queue)) as q:
            time.sleep(1.0)  # registered, found nothing, waiting
            users = ["vip"] * 3 if "assigned_users" in scope else ["a", "b", "c", "d"]
            for i, user in enumerate(users):
                q.push(Task.create(user, payload=i, task_id=f"wake{i}"))
                assert q.result(f"wake{i}", timeout=3) == i + 1  # not the 5 s poll
    finally:
        h.stop()
