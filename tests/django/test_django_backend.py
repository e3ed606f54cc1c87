"""fairque as a backend of Django's tasks framework (pytest-django, the real server): a view
enqueues, a worker process runs the task, ``get_result()`` is SUCCESSFUL with its value; a
failing task is FAILED with its error; priorities, ``run_after``, the task context and async
tasks; fairness between two customers holds through the backend."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
import redis

from fairque import FairQueueConfig, TaskQueue, Worker
from fairque.contrib.django import fairque_priority, fairque_user
from fairque.contrib.django.compat import TaskResultStatus
from tests.support.processes import ROOT

QUEUE = "django-shop"


@pytest.fixture
def shop(server_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The shop's tasks against a clean queue on the test server."""
    monkeypatch.setenv("FAIRQUE_REDIS_URL", server_url)
    client = redis.Redis.from_url(server_url)
    for key in client.scan_iter(match=f"fq:{{{QUEUE}}}:*", count=1000):
        client.delete(key)
    client.delete("shop-test:order")
    client.close()
    from tests.django_project.shop import tasks

    yield tasks
    tasks.add.get_backend().close()  # the next test may run against another server


def worker_process(server_url: str) -> subprocess.Popen[bytes]:
    """The worker command as the README gives it, in a process of its own."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.django_project.settings",
           "FAIRQUE_REDIS_URL": server_url, "PYTHONPATH": str(ROOT)}  # fmt: skip
    argv = [sys.executable, "-m", "fairque.cli", "--queue", QUEUE, "worker",
            "--handler", "fairque.contrib.django.worker:unregistered"]  # fmt: skip
    return subprocess.Popen(argv, env=env, cwd=ROOT, stderr=subprocess.PIPE)


def run_in_process(server_url: str, **queue: Any) -> None:
    """A worker in this process until the queue is empty (the Django tasks registered)."""
    import fairque.contrib.django.worker  # noqa: F401  (registers the Django tasks)

    config = FairQueueConfig(redis={"url": server_url}, queue={"name": QUEUE, **queue})
    Worker(config, concurrency=1).run(burst=True)


def test_a_view_enqueues_and_a_worker_process_runs_it(shop, client, server_url):
    response = client.get("/add/", {"a": 2, "b": 40}, headers={"X-Customer": "acme"})
    assert response.status_code == 202
    result_id = response.json()["id"]
    pending = shop.add.get_result(result_id)
    assert pending.status == TaskResultStatus.READY and pending.args == [2, 40]
    worker = worker_process(server_url)
    try:
        done = shop.add.get_backend().wait_result(result_id, timeout=60)
    finally:
        worker.terminate()
        worker.wait(20)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.return_value == 42
    assert done.attempts == 1 and done.finished_at is not None
    assert client.get(f"/result/{result_id}/").json() == {"status": "SUCCESSFUL", "value": 42}
    with TaskQueue(FairQueueConfig(redis={"url": server_url}, queue={"name": QUEUE})) as q:
        assert q.get_task(result_id).user_id == "acme"  # the customer the view named


def test_a_failing_task_is_failed_with_its_error(shop, server_url):
    result = shop.explode.enqueue("no stock")
    run_in_process(server_url, max_attempts=1)  # (retried first, it would be READY again)
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    error = result.errors[0]
    assert error.exception_class is ValueError and "no stock" in error.traceback
    with pytest.raises(ValueError, match="failed"):
        _ = result.return_value


def test_fairness_between_two_customers_holds_through_the_backend(shop, server_url):
    with fairque_user("big-customer"):
        heavy = [shop.record.enqueue(f"h{i}") for i in range(20)]
    light = [shop.record.enqueue(f"l{i}", fairque_user="small-customer") for i in range(4)]
    run_in_process(server_url)
    order = {r.id: shop.record.get_result(r.id).return_value for r in heavy + light}
    light_positions = sorted(order[r.id] for r in light)
    # round-robin between the two customers: the light tasks run 2nd, 4th, 6th, 8th, not last
    assert light_positions == [2, 4, 6, 8], light_positions
    assert all(shop.record.get_result(r.id).args == [r.args[0]] for r in light)


def test_priority_run_after_context_and_async_tasks(shop, server_url):
    assert [fairque_priority(p) for p in (-100, -50, -49, -1, 0, 1, 49, 50, 99, 100)] == [
        1, 1, 2, 2, 3, 4, 4, 5, 5, 6,
    ]  # fmt: skip
    config = FairQueueConfig(redis={"url": server_url}, queue={"name": QUEUE})
    later = shop.add.using(run_after=_now() + timedelta(hours=1)).enqueue(1, 1)
    urgent = shop.urgent.enqueue("now")
    ctx = shop.attempt.enqueue("ctx")
    async_one = asyncio.run(shop.async_add.aenqueue(3, 4))
    with TaskQueue(config) as q:
        assert q.get_task(later.id).state == "delayed"
        assert q.get_task(urgent.id).priority == 5
    run_in_process(server_url)
    assert shop.urgent.get_result(urgent.id).return_value == "now"
    assert shop.attempt.get_result(ctx.id).return_value == ["ctx", 1, ctx.id]
    fetched = asyncio.run(shop.async_add.aget_result(async_one.id))
    assert fetched.return_value == 7
    assert shop.add.get_result(later.id).status == TaskResultStatus.READY  # not due yet


def test_bad_input_is_refused_before_anything_is_written(shop, server_url):
    from fairque.contrib.django.compat import TaskResultDoesNotExist

    with pytest.raises(TaskResultDoesNotExist):
        shop.add.get_result("django-shop:no-such-task")
    with pytest.raises(TaskResultDoesNotExist):
        shop.add.get_result("another-queue:x")
    from fairque.core.exceptions import InvalidUserId

    with pytest.raises(InvalidUserId):
        shop.add.enqueue(1, 2, fairque_user="not a user id")
    with TaskQueue(FairQueueConfig(redis={"url": server_url}, queue={"name": QUEUE})) as q:
        assert q.stats().counters.get("pushed", 0) == 0


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()
