"""Fixtures shared by every test: one real server per session, one fresh queue per test.

The server is the embedded Valkey unless ``FAIRQUE_TEST_REDIS_URL`` points at another one
(``.ci/run`` does a compatibility pass against Debian's redis-server that way).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from fairque import AsyncTaskQueue, FairQueueConfig, TaskQueue
from fairque.server import EmbeddedServer


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url = os.environ.get("FAIRQUE_TEST_REDIS_URL")
    if url:
        yield url
        return
    with EmbeddedServer() as server:
        yield server.url


@pytest.fixture
def raw(server_url: str) -> Iterator[redis.Redis]:
    """A plain client for assertions about what is (not) in the server."""
    client = redis.Redis.from_url(server_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def queue_name() -> str:
    return "t-" + uuid.uuid4().hex[:12]


class SyncFacade:
    """Runs an AsyncTaskQueue's coroutines on a private loop, so one test body drives both."""

    def __init__(self, inner: AsyncTaskQueue) -> None:
        self._inner = inner
        self._runner = asyncio.Runner()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if inspect.iscoroutinefunction(attr):
            return lambda *a, **kw: self._runner.run(attr(*a, **kw))
        return attr

    def close(self) -> None:
        self._runner.run(self._inner.close())
        self._runner.close()


QueueFactory = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_config(server_url: str, queue_name: str) -> Callable[..., FairQueueConfig]:
    """Build a config for this test's queue: ``make_config(workers=[...], queue={...})``."""

    def build(**sections: Any) -> FairQueueConfig:
        queue = {"name": queue_name, **sections.pop("queue", {})}
        return FairQueueConfig(redis={"url": server_url}, queue=queue, **sections)

    return build


@pytest.fixture
def make_queue(kind: str, make_config: Callable[..., FairQueueConfig]) -> Iterator[QueueFactory]:
    """Open a sync or async queue (the test is run for both) with blocking methods."""
    opened: list[Any] = []

    def build(config: FairQueueConfig | None = None, worker_id: str | None = None) -> Any:
        config = config if config is not None else make_config()
        q: Any
        if kind == "sync":
            q = TaskQueue(config, worker_id=worker_id).open()
        else:
            q = SyncFacade(AsyncTaskQueue(config, worker_id=worker_id))
            q.open()
        opened.append(q)
        return q

    yield build
    for q in opened:
        q.close()
