"""What every scenario shares: the report document, server facts, a rate timer, a queue."""

from __future__ import annotations

import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from pydantic import BaseModel, Field
from redis.cluster import RedisCluster

from fairque.core.config import FairQueueConfig
from fairque.core.keys import QueueKeys, hash_tag
from fairque.server import EmbeddedServer


class Progress(Protocol):
    """Told what a scenario is doing, and each figure as soon as it is measured (so a live
    view can draw it before the run ends): ``progress("push", ("push_per_s", 7491.0))``."""

    def __call__(self, message: str, figure: tuple[str, float] | None = None) -> None: ...


class BenchReport(BaseModel):
    """The JSON document of docs/benchmarks.md: scenario, server, params, results, ratios."""

    scenario: str
    server: dict[str, Any]
    params: dict[str, Any]
    results: dict[str, Any] = Field(default_factory=dict)
    ratios: dict[str, float] = Field(default_factory=dict)
    control: dict[str, Any] | None = None  # the FIFO control run of ``fairness``


def server_facts(url: str) -> dict[str, Any]:
    """Server, client and machine facts every report states."""
    client = redis.Redis.from_url(url)
    try:
        info = client.info("server")
    finally:
        client.close()
    try:
        import hiredis  # noqa: F401

        parser = "hiredis"
    except ImportError:
        parser = "python"
    return {
        "server": info.get("server_name", "redis"),
        "version": info.get("valkey_version") or info.get("redis_version"),
        "redis_py": redis.__version__,
        "parser": parser,
        "python": platform.python_version(),
        "cores": os.cpu_count(),
    }


@contextmanager
def bench_server(url: str | None) -> Iterator[str]:
    """The given server, or a fresh embedded Valkey for the run."""
    if url:
        yield url
        return
    with EmbeddedServer() as server:
        yield server.url


@dataclass(frozen=True)
class Target:
    """Where a scenario runs: a single server or a cluster, and the queue's partitions."""

    cluster: bool = False
    partitions: int = 1
    partition_pick: str = "fair"  # queue.partition_pick: "fair" or "sticky"

    @property
    def label(self) -> str:
        where = "cluster" if self.cluster else "single server"
        return f"{where}, partitions={self.partitions} ({self.partition_pick} pick)"


SINGLE = Target()


def bench_config(url: str, target: Target = SINGLE, **queue: Any) -> FairQueueConfig:
    """A config for a throwaway queue on ``url`` (its partitions spread over the cluster's
    nodes when there are several)."""
    return FairQueueConfig(
        redis={"url": url, "cluster": target.cluster},
        queue={
            "name": queue_name(url, target),
            "partitions": target.partitions,
            "partition_pick": target.partition_pick,
            **queue,
        },
    )


def queue_name(url: str, target: Target) -> str:
    """A fresh queue name; on a cluster, one whose partitions land on as many different
    nodes as possible (the hash slot of ``{name#k}`` decides the node)."""
    name = "bench-" + uuid.uuid4().hex[:8]
    if not target.cluster or target.partitions == 1:
        return name
    client: Any = RedisCluster.from_url(url)
    try:
        nodes = {n.name for n in client.get_primaries()}
        want = min(len(nodes), target.partitions)
        for _ in range(2000):
            owners = {
                client.get_node_from_key(hash_tag(name, k)).name for k in range(target.partitions)
            }
            if len(owners) >= want:
                return name
            name = "bench-" + uuid.uuid4().hex[:8]
    finally:
        client.close()
    return name


def drop_queue(url: str, queue: str, target: Target = SINGLE) -> None:
    """Delete a benchmark queue's keys, every partition (benchmark queues only; SCAN is fine)."""
    client: Any = RedisCluster.from_url(url) if target.cluster else redis.Redis.from_url(url)
    parts = range(target.partitions) if target.partitions > 1 else [None]
    prefixes = [QueueKeys(queue, k).prefix for k in parts]
    try:
        for prefix in prefixes:
            keys = list(client.scan_iter(match=prefix + "*", count=1000))
            for i in range(0, len(keys), 1000):
                client.delete(*keys[i : i + 1000])  # one tag: one slot, even on a cluster
    finally:
        client.close()


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` (inclusive method; 0 for none)."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def rate(count: int, fn: Callable[[], None]) -> float:
    """Operations per second of ``fn``, which performs ``count`` operations."""
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


def quiet(message: str, figure: tuple[str, float] | None = None) -> None:
    """A progress callback that says nothing."""
