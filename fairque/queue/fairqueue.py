"""``TaskQueue``: the synchronous transport over the sans-IO operations in :mod:`ops`."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import redis
from redis.commands.core import Script

from fairque.core.config import FairQueueConfig
from fairque.core.models import AckResult, DLQEntry, PushResult, QueueStats, Task, TaskInfo
from fairque.queue import ops
from fairque.queue import partitions as routed
from fairque.queue.node_pipelines import NodePipelines
from fairque.queue.partitions import Partitions
from fairque.queue.server_checks import check_server
from fairque.queue.transport import (
    SyncClient,
    evalsha_args,
    make_client,
    noscript_indexes,
    settle,
    translate,
)
from fairque.scripts import all_scripts

T = TypeVar("T")
log = logging.getLogger("fairque.queue")


class TaskQueue:
    """A fair queue on Redis/Valkey, for producers and workers (thread-safe).

    ``worker_id`` picks the ``[[workers]]`` entry whose scope ``pop`` serves (the only one
    when the config has exactly one); without one, ``pop`` serves every user.
    """

    def __init__(
        self,
        config: FairQueueConfig | None = None,
        *,
        worker_id: str | None = None,
        client: SyncClient | None = None,
    ) -> None:
        self.config = config if config is not None else FairQueueConfig.load()
        self.parts = Partitions(self.config, worker_id)
        self.session = self.parts.home  # partition 0 (the only one unless partitioned)
        self._url = self.config.redis.url
        self._own_client = client is None
        self._cluster = self.config.redis.cluster
        self.client: SyncClient = client if client is not None else make_client(self.config.redis)
        self._scripts: dict[str, Script] = {
            name: self.client.register_script(s.source) for name, s in all_scripts().items()
        }
        self._opened = False
        self._node_pipes = (
            NodePipelines(
                self.client,
                {name: sc.sha for name, sc in self._scripts.items()},
                self._cluster_pipeline,
            )
            if self._cluster
            else None
        )

    # -- transport -------------------------------------------------------------------------

    def _send_one(self, call: ops.Call, target: Any) -> Any:
        if isinstance(call, ops.ScriptCall):
            script = self._scripts[call.script]
            if self._cluster and target is not self.client:  # a cluster pipeline
                return target.execute_command(*evalsha_args(script.sha, call))
            return script(keys=call.keys, args=call.args, client=target)
        return target.execute_command(*call.args)

    def _send(self, step: ops.Step) -> Any:
        if not isinstance(step, list) and (
            self._node_pipes is not None or (isinstance(step, ops.CommandCall) and step.lenient)
        ):
            # Through a pipeline: it reports errors as values (lenient reads), and on a
            # cluster it is the fast path to the node.
            return settle([step], self._pipeline([step]))[0]
        if not isinstance(step, list):
            return self._send_one(step, self.client)
        return settle(step, self._pipeline(step))

    def _pipeline(self, calls: list[ops.Call]) -> list[Any]:
        if self._node_pipes is not None:
            return self._node_pipes.execute(calls)
        return self._cluster_pipeline(calls)

    def _cluster_pipeline(self, calls: list[ops.Call]) -> list[Any]:
        """One redis-py pipeline (a ClusterPipeline on a cluster: the slow, general path)."""
        pipe = self.client.pipeline(transaction=False)
        for call in calls:
            self._send_one(call, pipe)
        replies: list[Any] = pipe.execute(raise_on_error=False)
        for i in noscript_indexes(calls, replies) if self._cluster else []:
            replies[i] = self._send_one(calls[i], self.client)  # loads the script, runs it
        return replies

    def run(self, op: ops.Op[T]) -> T:
        """Drive a sans-IO operation over this connection (used by workers and monitoring)."""
        try:
            step = next(op)
            while True:
                try:
                    reply = self._send(step)
                except redis.RedisError as exc:
                    raise translate(exc, self._url) from exc
                step = op.send(reply)
        except StopIteration as stop:
            result: T = stop.value
            return result

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> TaskQueue:
        """Check the connection and the server (version, eviction policy). Opening writes
        nothing: a consumer registers itself on its first pop, a producer never does."""
        if not self._opened:
            try:
                info = self.client.info()
            except redis.RedisError as exc:
                raise translate(exc, self._url) from exc
            for warning in check_server(info, self.config.redis):
                log.warning("%s", warning)
            self._opened = True
        return self

    def close(self) -> None:
        if self._node_pipes is not None:
            self._node_pipes.close()
        if self._own_client:
            self.client.close()

    def __enter__(self) -> TaskQueue:
        return self.open()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb_: TracebackType | None
    ) -> None:
        self.close()

    # -- operations ------------------------------------------------------------------------

    def push(self, task: Task) -> PushResult:
        """Add a task; idempotent by ``task_id`` (``created=False`` if it already existed)."""
        return self.run(routed.push(self.parts, [task]))[0]

    def push_batch(self, tasks: Sequence[Task]) -> list[PushResult]:
        """Add many tasks in one round trip."""
        return self.run(routed.push(self.parts, list(tasks)))

    def pop(self) -> Task | None:
        """Lease the next task picked fairly for this worker, or None if nothing is ready."""
        tasks = self.run(routed.pop(self.parts, 1))
        return tasks[0] if tasks else None

    def pop_many(self, count: int) -> list[Task]:
        """Lease up to ``count`` tasks in one call, each picked by the fair round-robin."""
        return self.run(routed.pop(self.parts, count))

    def complete(self, task: Task, result: Any = None) -> AckResult:
        """Acknowledge a leased task; ``STALE`` if its lease was lost meanwhile."""
        return self.run(routed.complete(self.parts, [(task, result)]))[0]

    def complete_many(self, items: Iterable[tuple[Task, Any]]) -> list[AckResult]:
        return self.run(routed.complete(self.parts, list(items)))

    def fail(self, task: Task, error: BaseException | str, *, retry: bool = True) -> AckResult:
        """Report a failed attempt: retried with backoff, or moved to the DLQ when exhausted."""
        return self.run(routed.fail(self.parts, [ops.failure_of(task, error, retry)]))[0]

    def fail_many(self, failures: Iterable[ops.Failure]) -> list[AckResult]:
        """Report many failed attempts in one call (see :func:`ops.failure_of`)."""
        return self.run(routed.fail(self.parts, list(failures)))

    def heartbeat(self, tasks: Iterable[Task]) -> dict[str, datetime | None]:
        """Extend leases: task id -> new deadline, or None where the lease was lost."""
        return self.run(routed.heartbeat(self.parts, list(tasks)))

    def release(self, tasks: Iterable[Task]) -> list[AckResult]:
        """Hand leased tasks back unfinished: ready again at once, attempt not counted."""
        return self.run(routed.release(self.parts, list(tasks)))

    def get_task(self, task_id: str) -> TaskInfo | None:
        """State, attempts, result or error of a task (None if unknown or expired)."""
        return self.run(routed.get_task(self.parts, task_id))

    def dlq(self, limit: int = 100, offset: int = 0) -> list[DLQEntry]:
        """A page of the dead-letter queue, newest first."""
        return self.run(routed.dlq_entries(self.parts, limit, offset))

    def requeue_dead(self, task_ids: Sequence[str]) -> int:
        """Put dead tasks back to ready (same ids, attempts reset); returns how many moved."""
        return self.run(routed.requeue_dead(self.parts, task_ids))

    def stats(self) -> QueueStats:
        """Counters and per-user backlog."""
        return self.run(routed.stats(self.parts))
