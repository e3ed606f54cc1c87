"""Pipelines on a cluster without the cluster pipeline's cost.

redis-py's ``ClusterPipeline`` re-plans every command in Python on every call, which costs
more than the scripts themselves (measured: pipelined EVALSHA ~10k/s through it against
~200k/s through a plain pipeline). Every key of a fairque queue (partition) shares one hash
slot, so a step's calls go to one node, or to one node per partition: here each node gets a
plain pipeline on its own connection. Calls the cluster redirects (MOVED, ASK, TRYAGAIN,
CLUSTERDOWN: resharding or failover) or answers that it does not hold the scripts did not
run; they go again through the cluster client, which refreshes its slot map, follows
redirections and loads the scripts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis.asyncio as aredis
import redis.exceptions as rex

from fairque.queue.ops import Call, ScriptCall
from fairque.queue.scripting import Scripting, functions_refused, unloaded

# A small step (a worker's acks and pop: a few dozen arguments) is cheaper sent node after
# node than in parallel; big ones (push_batch over partitions, snapshots) go to the nodes at
# once.
PARALLEL_FROM = 64  # arguments in the step
KEYLESS = frozenset({"TIME", "INFO", "WAIT", "WAITAOF", "PING", "CONFIG"})
REDIRECTED = (rex.MovedError, rex.AskError, rex.TryAgainError, rex.ClusterDownError)
LOST = (rex.ConnectionError, rex.TimeoutError)  # the node did not answer


def first_key(call: Call) -> str | None:
    """The key that decides a call's slot (None for keyless commands such as TIME)."""
    if isinstance(call, ScriptCall):
        return call.keys[0]
    if call.route is not None:  # a keyless command that belongs with a key's node (WAIT)
        return call.route
    name = str(call.args[0]).upper()
    if name in KEYLESS or len(call.args) < 2:
        return None
    if name in ("EVAL_RO", "EVALSHA_RO"):  # body or sha, numkeys, then the first key
        return str(call.args[3])
    return str(call.args[1])


def plan(client: Any, calls: list[Call]) -> list[tuple[Any, list[int]]]:
    """(node, indexes of its calls) for every node a step reaches; keyless calls ride with
    the first node (any node answers TIME)."""
    groups: dict[str, tuple[Any, list[int]]] = {}
    keyless: list[int] = []
    for i, call in enumerate(calls):
        key = first_key(call)
        if key is None:
            keyless.append(i)
            continue
        node = client.get_node_from_key(key)
        groups.setdefault(node.name, (node, []))[1].append(i)
    if keyless:
        node = next(iter(groups.values()))[0] if groups else client.get_default_node()
        groups.setdefault(node.name, (node, []))[1].extend(keyless)
    return list(groups.values())


def parallel(calls: list[Call], jobs: list[tuple[Any, list[int]]]) -> bool:
    return len(jobs) > 1 and sum(len(c.args) for c in calls) >= PARALLEL_FROM


def queue_calls(pipe: Any, calls: list[Call], indexes: list[int], scripting: Scripting) -> None:
    for i in indexes:
        call = calls[i]
        if isinstance(call, ScriptCall):
            pipe.execute_command(*scripting.args(call))
        else:
            pipe.execute_command(*call.args)


def scatter(
    n: int, jobs: list[tuple[Any, list[int]]], outs: list[list[Any]]
) -> tuple[list[Any], list[int]]:
    """The replies in call order, and the calls to send again through the cluster client."""
    replies: list[Any] = [None] * n
    for (_, indexes), out in zip(jobs, outs, strict=True):
        for i, reply in zip(indexes, out, strict=True):
            replies[i] = reply
    return replies, [
        i
        for i, r in enumerate(replies)
        if isinstance(r, REDIRECTED) or unloaded(r) or functions_refused(r)
    ]


class NodePipelines:
    """The synchronous transport's cluster steps: one plain pipeline per node."""

    def __init__(
        self, client: Any, scripting: Scripting, fallback: Callable[[list[Call]], list[Any]]
    ) -> None:
        self.client = client  # redis.cluster.RedisCluster (its API is only partly typed)
        self.scripting = scripting
        self.fallback = fallback  # the cluster pipeline: follows redirections, loads scripts
        self._pool: ThreadPoolExecutor | None = None

    def execute(self, calls: list[Call]) -> list[Any]:
        jobs = plan(self.client, calls)
        try:
            if parallel(calls, jobs):  # socket waits release the GIL
                outs = list(self._threads().map(lambda job: self._run(calls, *job), jobs))
            else:
                outs = [self._run(calls, *job) for job in jobs]
        except LOST:
            # A node is gone (a failover under way, or done): learn the slot map again, so
            # the caller's next attempt reaches the replica promoted in its place.
            with contextlib.suppress(rex.RedisError):  # no node answers yet: ask next time
                self.client.nodes_manager.initialize()
            raise
        replies, again = scatter(len(calls), jobs, outs)
        if again:
            if any(isinstance(replies[i], REDIRECTED) for i in again):
                self.client.nodes_manager.initialize()  # the slot map changed
            for i, reply in zip(again, self.fallback([calls[i] for i in again]), strict=True):
                replies[i] = reply
        return replies

    def _run(self, calls: list[Call], node: Any, indexes: list[int]) -> list[Any]:
        pipe = self.client.get_redis_connection(node).pipeline(transaction=False)
        queue_calls(pipe, calls, indexes, self.scripting)
        out: list[Any] = pipe.execute(raise_on_error=False)
        return out

    def _threads(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fairque-node")
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)


class AsyncNodePipelines:
    """The asyncio transport's cluster steps: one plain client per node, nodes at once."""

    def __init__(
        self,
        client: Any,
        scripting: Scripting,
        fallback: Callable[[list[Call]], Awaitable[list[Any]]],
        connect: Callable[[str, int], aredis.Redis],
    ) -> None:
        self.client = client  # redis.asyncio.cluster.RedisCluster
        self.scripting = scripting
        self.fallback = fallback
        self.connect = connect  # a plain client for (host, port), same credentials and TLS
        self._nodes: dict[str, aredis.Redis] = {}

    async def execute(self, calls: list[Call]) -> list[Any]:
        if not self.client.nodes_manager.default_node:
            await self.client.initialize()
        jobs = plan(self.client, calls)
        try:
            if parallel(calls, jobs):
                outs = list(await asyncio.gather(*(self._run(calls, *job) for job in jobs)))
            else:
                outs = [await self._run(calls, *job) for job in jobs]
        except LOST:
            # A node is gone: forget its connections and learn the slot map again (the
            # caller's next attempt reaches the promoted replica).
            for job_node, _ in jobs:
                conn = self._nodes.pop(job_node.name, None)
                if conn is not None:
                    await conn.aclose()
            with contextlib.suppress(rex.RedisError):
                await self.client.nodes_manager.initialize()
            raise
        replies, again = scatter(len(calls), jobs, outs)
        if again:
            if any(isinstance(replies[i], REDIRECTED) for i in again):
                await self.client.nodes_manager.initialize()
            redone = await self.fallback([calls[i] for i in again])
            for i, reply in zip(again, redone, strict=True):
                replies[i] = reply
        return replies

    async def _run(self, calls: list[Call], node: Any, indexes: list[int]) -> list[Any]:
        conn = self._nodes.get(node.name)
        if conn is None:
            conn = self.connect(node.host, node.port)
            self._nodes[node.name] = conn
        pipe = conn.pipeline(transaction=False)
        queue_calls(pipe, calls, indexes, self.scripting)
        out: list[Any] = await pipe.execute(raise_on_error=False)
        return out

    async def close(self) -> None:
        for conn in self._nodes.values():
            await conn.aclose()
        self._nodes.clear()
