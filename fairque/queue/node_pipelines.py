"""Pipelines on a cluster without the cluster pipeline's cost (synchronous transport).

redis-py's ``ClusterPipeline`` re-plans every command in Python on every call, which costs
more than the scripts themselves (measured: pipelined EVALSHA ~10k/s through it against
~150k/s through a plain pipeline). Every key of a fairque queue (partition) shares one hash
slot, so a step's calls go to one node, or to one node per partition: here each node gets a
plain pipeline on its own connection. Calls the cluster redirects (MOVED, ASK, TRYAGAIN,
CLUSTERDOWN: resharding or failover) did not run; they go again through the cluster client,
which refreshes its slot map and follows the redirections.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis.exceptions as rex
from redis.cluster import RedisCluster

from fairque.queue.ops import Call, ScriptCall
from fairque.queue.transport import evalsha_args

# A small step (a worker's acks and pop: a few dozen arguments) is cheaper sent node after
# node than handed to threads; big ones (push_batch over partitions, snapshots) go to the
# nodes in parallel.
PARALLEL_FROM = 64  # arguments in the step
KEYLESS = frozenset({"TIME", "INFO", "WAIT", "WAITAOF", "PING", "CONFIG"})
REDIRECTED = (rex.MovedError, rex.AskError, rex.TryAgainError, rex.ClusterDownError)


def first_key(call: Call) -> str | None:
    """The key that decides a call's slot (None for keyless commands such as TIME)."""
    if isinstance(call, ScriptCall):
        return call.keys[0]
    if str(call.args[0]).upper() in KEYLESS or len(call.args) < 2:
        return None
    return str(call.args[1])


class NodePipelines:
    """Send a step's calls as one plain pipeline per node (the nodes in parallel)."""

    def __init__(
        self,
        client: RedisCluster,
        shas: dict[str, str],
        fallback: Callable[[list[Call]], list[Any]],
    ) -> None:
        self.client: Any = client  # redis-py's cluster API is only partly typed
        self.shas = shas
        self.fallback = fallback  # the cluster pipeline: follows redirections, loads scripts
        self._pool: ThreadPoolExecutor | None = None

    def _threads(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fairque-node")
        return self._pool

    def _run(self, calls: list[Call], node: Any, indexes: list[int]) -> list[Any]:
        pipe = self.client.get_redis_connection(node).pipeline(transaction=False)
        for i in indexes:
            call = calls[i]
            if isinstance(call, ScriptCall):
                pipe.execute_command(*evalsha_args(self.shas[call.script], call))
            else:
                pipe.execute_command(*call.args)
        out: list[Any] = pipe.execute(raise_on_error=False)
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def execute(self, calls: list[Call]) -> list[Any]:
        groups: dict[str, tuple[Any, list[int]]] = {}
        keyless: list[int] = []
        for i, call in enumerate(calls):
            key = first_key(call)
            if key is None:
                keyless.append(i)
                continue
            node = self.client.get_node_from_key(key)
            groups.setdefault(node.name, (node, []))[1].append(i)
        if keyless:
            node = next(iter(groups.values()))[0] if groups else self.client.get_default_node()
            groups.setdefault(node.name, (node, []))[1].extend(keyless)
        replies: list[Any] = [None] * len(calls)
        jobs = list(groups.values())
        if len(jobs) == 1 or sum(len(c.args) for c in calls) < PARALLEL_FROM:
            outs = [self._run(calls, *job) for job in jobs]
        else:  # big steps: the nodes work at once (socket waits release the GIL)
            outs = list(self._threads().map(lambda job: self._run(calls, *job), jobs))
        for (_, indexes), out in zip(jobs, outs, strict=True):
            for i, reply in zip(indexes, out, strict=True):
                replies[i] = reply
        again = [
            i for i, r in enumerate(replies) if isinstance(r, (*REDIRECTED, rex.NoScriptError))
        ]
        if again:
            if any(isinstance(replies[i], REDIRECTED) for i in again):
                self.client.nodes_manager.initialize()  # the slot map changed
            for i, reply in zip(again, self.fallback([calls[i] for i in again]), strict=True):
                replies[i] = reply
        return replies
