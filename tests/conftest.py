"""Fixtures shared by every test: one real server per session, one fresh queue per test.

The server is the embedded Valkey unless ``FAIRQUE_TEST_REDIS_URL`` points at another one
(``.ci/run`` does a compatibility pass against Debian's redis-server that way), or, with
``FAIRQUE_TEST_CLUSTER=1``, a 3-node Valkey Cluster from the embedded binary (every config
then says ``redis.cluster = true``; ``.ci/run`` runs the core suites that way).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from fairque import AsyncTaskQueue, FairQueueConfig, TaskQueue
from fairque.cluster_server import EmbeddedCluster
from fairque.monitoring import AsyncAdmin, AsyncInspector
from fairque.server import EmbeddedServer

CLUSTER = os.environ.get("FAIRQUE_TEST_CLUSTER") == "1"


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Shell completion caches user names under $XDG_CACHE_HOME: the suite's own, not the
    home directory of whoever runs it."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url = os.environ.get("FAIRQUE_TEST_REDIS_URL")
    if url:
        yield url
        return
    if CLUSTER:
        # Worker and CLI processes the tests start read the same switch.
        os.environ["FAIRQUE_REDIS_CLUSTER"] = "1"
        with EmbeddedCluster() as cluster:
            yield cluster.url
        return
    with EmbeddedServer() as server:
        yield server.url


@pytest.fixture
def raw(server_url: str) -> Iterator[Any]:
    """A plain client for assertions about what is (not) in the server (a cluster client
    when the suite runs on a cluster)."""
    client: Any = (
        RedisCluster.from_url(server_url, decode_responses=True)
        if CLUSTER
        else redis.Redis.from_url(server_url, decode_responses=True)
    )
    yield client
    client.close()


@pytest.fixture
def queue_name() -> str:
    return "t-" + uuid.uuid4().hex[:12]


class SyncFacade:
    """Runs an asyncio object's coroutines (an AsyncTaskQueue, AsyncInspector, AsyncAdmin) on
    a private loop, so one test body drives both forms."""

    def __init__(self, inner: Any, runner: asyncio.Runner | None = None) -> None:
        self._inner = inner
        self._runner = runner or asyncio.Runner()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if inspect.iscoroutinefunction(attr):
            return lambda *a, **kw: self._facade(self._runner.run(attr(*a, **kw)))
        return attr

    def _facade(self, value: Any) -> Any:
        """An asyncio object a coroutine returned (an AsyncGroup) is driven the same way."""
        if type(value).__name__.startswith("Async"):
            return SyncFacade(value, self._runner)
        return value

    def close(self) -> None:
        self._runner.run(self._inner.close())
        self._runner.close()


QueueFactory = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["sync", "async"])
def monitor(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Make an Inspector or an Admin, or (the test runs for both) its asyncio twin over its
    own asyncio queue, driven through a SyncFacade: ``monitor(Inspector, config)``."""
    made: list[Any] = []

    def build(cls: type, config: FairQueueConfig, **kwargs: Any) -> Any:
        if request.param == "sync":
            made.append(cls(config, **kwargs))
            return made[-1]
        twin = {"Inspector": AsyncInspector, "Admin": AsyncAdmin}[cls.__name__]
        made.append(SyncFacade(twin(config, **kwargs)))
        made[-1].open()
        return made[-1]

    yield build
    for obj in made:
        obj.close()


@pytest.fixture
def make_config(server_url: str, queue_name: str) -> Callable[..., FairQueueConfig]:
    """Build a config for this test's queue: ``make_config(workers=[...], queue={...})``."""

    def build(**sections: Any) -> FairQueueConfig:
        queue = {"name": queue_name, **sections.pop("queue", {})}
        redis_section = {"url": server_url, "cluster": CLUSTER, **sections.pop("redis", {})}
        return FairQueueConfig(redis=redis_section, queue=queue, **sections)

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


@pytest.fixture
def nothing_written(raw: redis.Redis, queue_name: str) -> Callable[[], Any]:
    """A context manager asserting that the server holds as many keys after as before, and
    that every key of this test's queue is byte for byte the same (DUMP)."""

    def snapshot() -> tuple[int, dict[str, Any]]:
        keys = sorted(raw.scan_iter(match=f"fq:{{{queue_name}}}*", count=1000))
        dumps = raw.pipeline(transaction=False)
        for key in keys:
            dumps.dump(key)
        return raw.dbsize(), dict(zip(keys, dumps.execute(), strict=True))

    @contextmanager
    def unchanged() -> Iterator[None]:
        before = snapshot()
        yield
        assert snapshot() == before

    return unchanged
