"""Worker and AsyncWorker in-process: one suite, run for both kinds."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fairque import Task, TaskHandler, TaskQueue
from fairque.worker import HandlerRegistry
from tests.support.harness import Harness
from tests.support.waiting import wait_for


@pytest.fixture(params=["sync", "async"])
def worker_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def start_worker(worker_kind: str) -> Iterator[Callable[..., Harness]]:
    started: list[Harness] = []

    def start(config, handler=None, handlers=None) -> Harness:
        h = Harness(worker_kind, config, handler, handlers)
        started.append(h)
        return h

    yield start
    for h in started:
        if h.thread.is_alive():
            h.stop()


@pytest.fixture
def wconfig(make_config):
    def build(**worker: Any):
        queue = worker.pop("queue", {})
        return make_config(
            queue={"retry_base_seconds": 0.05, **queue},
            workers=[{"id": "w1", "steal_targets": "*", "concurrency": 4, **worker}],
        )

    return build


def test_drains_every_task_and_stores_results(start_worker, wconfig):
    reg = HandlerRegistry()
    seen: list[str] = []

    def double(task: Task) -> Any:
        seen.append(task.task_id)
        return {"double": task.payload * 2}

    reg.register("double", double)
    config = wconfig(heartbeat_interval=0.2)
    with TaskQueue(config) as q:
        q.push_batch(
            [Task.create(f"u{i % 3}", 3, i, task_id=f"t{i}", handler="double") for i in range(60)]
        )
        h = start_worker(config, handlers=reg)
        wait_for(lambda: q.stats().counters.get("completed") == 60)
        assert q.get_task("t7").result == {"double": 14}
        assert sorted(seen) == sorted(f"t{i}" for i in range(60))
        health = h.worker.health()
        assert health.processed == 60 and health.healthy
        assert health.stolen == 60  # w1 has no assigned users: everything is stolen via "*"
        assert q.client.zscore(q.session.keys.key("workers"), "w1") is not None
        entry = wait_for(
            lambda: (
                (e := q.client.hgetall(q.session.keys.key("worker", worker_id="w1")))
                and e.get("processed") == "60"
                and e
            )
        )
        assert {"host", "pid", "first_beat", "last_beat", "inflight", "stolen"} <= set(entry)
        assert entry["kind"] == h.kind
        h.stop()
        assert q.client.zscore(q.session.keys.key("workers"), "w1") is None


def test_default_handler_class_and_async_functions(start_worker, wconfig):
    class Upper(TaskHandler):
        def process_task(self, task: Task) -> str:
            return str(task.payload).upper()

    reg = HandlerRegistry()

    async def slow_echo(task: Task) -> Any:
        await asyncio.sleep(0.01)
        return task.payload

    reg.register("echo", slow_echo)
    config = wconfig()
    with TaskQueue(config) as q:
        q.push(Task.create("u1", payload="abc", task_id="plain"))
        q.push(Task.create("u1", payload="xyz", task_id="named", handler="echo"))
        start_worker(config, Upper, reg)
        wait_for(lambda: q.stats().counters.get("completed") == 2)
        assert q.get_task("plain").result == "ABC"
        assert q.get_task("named").result == "xyz"


def test_failures_retry_then_land_in_the_dlq_and_requeue_runs_them(start_worker, wconfig):
    broken = threading.Event()
    broken.set()

    def flaky(task: Task) -> str:
        if broken.is_set():
            raise ValueError(f"cannot handle {task.payload}")
        return "fixed"

    config = wconfig(queue={"max_attempts": 3})
    with TaskQueue(config) as q:
        q.push(Task.create("u1", payload="p", task_id="f1"))
        start_worker(config, flaky)
        entry = wait_for(q.dlq)[0]
        assert entry.task_id == "f1" and entry.attempts == 3
        assert entry.error == "cannot handle p" and entry.error_type == "ValueError"
        assert "ValueError: cannot handle p" in entry.traceback
        assert entry.worker_id == "w1" and entry.failed_at is not None
        broken.clear()
        assert q.requeue_dead(["f1"]) == 1
        wait_for(lambda: q.get_task("f1").state == "completed")
        assert q.get_task("f1").result == "fixed" and q.get_task("f1").attempts == 1


def test_unknown_handler_goes_to_the_dlq_and_the_worker_keeps_going(start_worker, wconfig):
    config = wconfig()
    with TaskQueue(config) as q:
        q.push(Task.create("u1", payload=1, task_id="lost", handler="never_imported_mod.run"))
        q.push(Task.create("u1", payload=2, task_id="fine"))
        start_worker(config, lambda t: "ok")
        wait_for(lambda: q.get_task("fine").state == "completed")
        info = wait_for(lambda: q.get_task("lost") if q.get_task("lost").state == "dead" else None)
        assert info.error == "unknown handler 'never_imported_mod.run'" and info.attempts == 1
        assert "never_imported_mod" not in sys.modules  # looked up by name, never imported


def test_a_timeout_frees_the_slot(start_worker, wconfig):
    release = threading.Event()

    def handler(task: Task) -> str:
        if task.payload == "stuck":
            release.wait(5)
        return "done"

    config = wconfig(concurrency=1, task_timeout=0.3, queue={"max_attempts": 1})
    with TaskQueue(config) as q:
        q.push(Task.create("u1", payload="stuck", task_id="slow"))
        h = start_worker(config, handler)
        wait_for(lambda: q.get_task("slow").state == "leased")
        q.push(Task.create("u2", payload="quick", task_id="fast"))
        wait_for(lambda: q.get_task("fast").state == "completed", timeout=3)
        slow = q.get_task("slow")
        assert slow.state == "dead" and slow.error_type == "TaskTimeout"
        release.set()
        time.sleep(0.1)
        assert q.get_task("slow").state == "dead"  # the late result was dropped
        assert h.worker.health().timed_out == 1


def test_delayed_tasks_start_no_earlier_than_due(start_worker, wconfig):
    started: dict[str, float] = {}

    def handler(task: Task) -> None:
        started[task.task_id] = time.time()

    config = wconfig()
    with TaskQueue(config) as q:
        start_worker(config, handler)
        pushed = time.time()
        q.push(Task.create("u1", payload=1, task_id="later", delay=0.5))
        wait_for(lambda: "later" in started)
        assert started["later"] - pushed >= 0.45  # server and client clocks are the same host


def test_corrupt_task_hash_is_buried_and_the_worker_keeps_running(start_worker, wconfig, raw):
    config = wconfig()
    with TaskQueue(config) as q:
        q.push(Task.create("u1", payload=1, task_id="bad"))
        raw.hset(q.session.keys.task("bad"), "payload", "{{{")
        q.push(Task.create("u1", payload=2, task_id="good"))
        h = start_worker(config, lambda t: t.payload)
        wait_for(lambda: q.get_task("good").state == "completed")
        bad = q.get_task("bad")
        assert bad.state == "dead" and bad.error.startswith("corrupt:")
        assert h.thread.is_alive() and h.worker.health().healthy


def test_a_result_that_is_not_json_fails_the_task(start_worker, wconfig):
    config = wconfig()
    with TaskQueue(config) as q:
        q.push(Task.create("u1", payload=1, task_id="setty"))
        start_worker(config, lambda t: {1, 2})
        info = wait_for(
            lambda: q.get_task("setty") if q.get_task("setty").state == "dead" else None
        )
        assert info.error_type == "InvalidResult"


def test_stop_finishes_short_tasks_and_hands_back_long_ones(start_worker, wconfig):
    def handler(task: Task) -> str:
        time.sleep(task.payload)
        return "ok"

    config = wconfig(shutdown_grace=0.5)
    with TaskQueue(config) as q:
        q.push_batch(
            [
                Task.create("u1", payload=0.2, task_id="short"),
                Task.create("u2", payload=30, task_id="long"),
            ]
        )
        h = start_worker(config, handler)
        wait_for(lambda: q.stats().inflight == 2)
        t0 = time.monotonic()
        h.stop()
        assert time.monotonic() - t0 < 2
        assert q.get_task("short").state == "completed"
        long = q.get_task("long")
        assert long.state == "ready" and long.attempts == 0
        assert q.stats().inflight == 0


def test_lease_heartbeats_keep_long_tasks(start_worker, wconfig):
    def handler(task: Task) -> str:
        time.sleep(1.0)
        return "ok"

    config = wconfig(queue={"visibility_timeout": 0.4}, heartbeat_interval=0.1)
    with TaskQueue(config) as q:
        q.push(Task.create("u1", payload=1, task_id="long"))
        start_worker(config, handler)
        wait_for(lambda: q.get_task("long").state == "completed")
        assert q.get_task("long").attempts == 1
        assert q.stats().counters.get("expired", 0) == 0
