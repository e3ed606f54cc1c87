"""The queue's client: a transport over the sans-IO operations in :mod:`ops`.

``async_fairqueue.py`` is written by hand; ``fairqueue.py`` is generated from it by
``scripts/unasync.py`` (coroutines become plain methods), so the asyncio and the sync client
cannot drift apart.
"""

from __future__ import annotations

import asyncio  # unasync: remove
import getpass
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import redis

from fairque.core.config import FairQueueConfig
from fairque.core.exceptions import ResultTimeout, ServerUnreachable
from fairque.core.models import (
    AckResult,
    CancelResult,
    DLQEntry,
    PushResult,
    QueueStats,
    Task,
    TaskEvent,
    TaskInfo,
)
from fairque.queue import control, ops, waits
from fairque.queue import partitions as routed
from fairque.queue.async_group import AsyncGroup
from fairque.queue.async_script_connections import AsyncScriptConnections
from fairque.queue.node_pipelines import AsyncNodePipelines
from fairque.queue.partitions import Partitions
from fairque.queue.scripting import Scripting, unloaded
from fairque.queue.server_checks import check_server
from fairque.queue.transport import (
    AsyncClient,
    make_async_client,
    node_client,  # unasync: remove
    plain_pool,
    settle,
    translate,
)

T = TypeVar("T")
log = logging.getLogger("fairque.queue")


class AsyncTaskQueue:
    """A fair queue on Redis/Valkey, for producers and workers.

    In the asyncio client every method that talks to the server is a coroutine, bound to
    one event loop; the sync client is the same class with plain methods, thread-safe.

    Args:
        config: the queue's settings; read with ``FairQueueConfig.load()`` (environment,
            ``fairque.toml``) when omitted.
        worker_id: the ``[[workers]]`` entry whose scope ``pop`` serves (the only one when the
            config has exactly one); without one, ``pop`` serves every user.
        client: a redis-py client to use instead of one made from ``config.redis`` (the
            caller then closes it).

    Raises:
        ConfigError: the settings are invalid (each message names the field).
    """

    def __init__(
        self,
        config: FairQueueConfig | None = None,
        *,
        worker_id: str | None = None,
        client: AsyncClient | None = None,
    ) -> None:
        self.config = config if config is not None else FairQueueConfig.load()
        self.parts = Partitions(self.config, worker_id)
        self.session = self.parts.home  # partition 0 (the only one unless partitioned)
        self._url = self.config.redis.url
        self._own_client = client is None
        self._cluster = self.config.redis.cluster
        self.client: AsyncClient = (
            client if client is not None else make_async_client(self.config.redis)
        )
        self._scripting = Scripting(self.config.redis.scripts)
        self._opened = False
        self._node_pipes = (
            AsyncNodePipelines(
                self.client,
                self._scripting,
                self._cluster_pipeline,
                lambda host, port: node_client(self.config.redis, host, port),  # unasync: remove
            )
            if self._cluster
            else None
        )
        # Script calls skip redis-py's per-command pool work (see the module); a cluster's
        # calls are routed by slot, through the cluster client or the node pipelines.
        pool = plain_pool(self.client)
        self._lines = None if pool is None else AsyncScriptConnections(pool)

    # -- transport -------------------------------------------------------------------------

    async def _send_one(self, call: ops.Call, target: Any) -> Any:
        # On a pipeline, execute_command only queues the command; awaiting the asyncio
        # *cluster* pipeline's return value would re-initialise it and drop the queue.
        on_pipeline = target is not self.client
        if isinstance(call, ops.ScriptCall):
            if on_pipeline:
                target.execute_command(*self._scripting.args(call))
                return None
            return await self._call_script(call)
        if on_pipeline:
            target.execute_command(*call.args)
            return None
        return await target.execute_command(*call.args)

    async def _call_script(self, call: ops.ScriptCall) -> Any:
        """One script call on the client: loaded first if the server says it is not (it
        did not run then), by EVALSHA if the server refuses functions."""
        client: Any = self.client  # plain or cluster: redis-py types them apart
        for _ in range(3):  # not loaded, then refused functions, then not loaded again
            try:
                return await self._script_command(self._scripting.args(call))
            except redis.ResponseError as exc:
                if self._scripting.refused(exc):
                    continue
                if not unloaded(exc):
                    raise
            try:
                await client.execute_command(*self._scripting.load_args(call))
            except redis.ResponseError as exc:
                if not self._scripting.refused(exc):
                    raise
        return await self._script_command(self._scripting.args(call))

    async def _script_command(self, args: tuple[Any, ...]) -> Any:
        if self._lines is not None:
            return await self._lines.call(args)
        client: Any = self.client  # a cluster client: routed by the call's first key
        return await client.execute_command(*args)

    async def _send(self, step: ops.Step) -> Any:
        if isinstance(step, ops.CommandCall) and step.blocking:
            client: Any = self.client  # plain or cluster (routed by the key)
            return await client.execute_command(*step.args)  # a connection of its own
        if not isinstance(step, list) and (
            self._node_pipes is not None or (isinstance(step, ops.CommandCall) and step.lenient)
        ):
            # Through a pipeline: it reports errors as values (lenient reads), and on a
            # cluster it is the fast path to the node.
            return settle([step], await self._pipeline([step]))[0]
        if not isinstance(step, list):
            return await self._send_one(step, self.client)
        return settle(step, await self._pipeline(step))

    async def _pipeline(self, calls: list[ops.Call]) -> list[Any]:
        if self._node_pipes is not None:
            return await self._node_pipes.execute(calls)
        if self._lines is not None and all(isinstance(c, ops.ScriptCall) or c.raw for c in calls):
            replies = await self._lines.exchange(
                [
                    self._scripting.args(c) if isinstance(c, ops.ScriptCall) else c.args
                    for c in calls
                ]
            )
            return await self._loaded_again(calls, replies)
        return await self._cluster_pipeline(calls)

    async def _cluster_pipeline(self, calls: list[ops.Call]) -> list[Any]:
        """One redis-py pipeline (a ClusterPipeline on a cluster: the slow, general path)."""
        pipe = self.client.pipeline(transaction=False)
        for call in calls:
            await self._send_one(call, pipe)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        return await self._loaded_again(calls, replies)

    async def _loaded_again(self, calls: list[ops.Call], replies: list[Any]) -> list[Any]:
        """A pipeline's replies, with each script call the server did not hold loaded and
        sent again (it did not run)."""
        for i, (call, reply) in enumerate(zip(calls, replies, strict=True)):
            if isinstance(call, ops.ScriptCall) and (
                unloaded(reply) or self._scripting.refused(reply)
            ):
                replies[i] = await self._call_script(call)  # it did not run: load, send again
        return replies

    async def run(self, op: ops.Op[T]) -> T:
        """Drive a sans-IO operation over this connection (workers and monitoring use it).

        Raises:
            FairQueueError: a typed error for the server's refusal or an unreachable server.
        """
        try:
            step = next(op)
            while True:
                try:
                    reply = await self._send(step)
                except redis.RedisError as exc:
                    raise translate(exc, self._url) from exc
                step = op.send(reply)
        except StopIteration as stop:
            result: T = stop.value
            return result

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> AsyncTaskQueue:
        """Check the connection and the server (version, eviction policy); returns self.

        Opening writes nothing: a consumer registers itself on its first pop, a producer
        never does. Operations open nothing themselves, so a queue works unopened too.

        Raises:
            ServerUnreachable: no server answers at ``config.redis.url``.
            UnsupportedServer: the server is too old for the scripts.
        """
        if not self._opened:
            try:
                info = await self.client.info()
            except redis.RedisError as exc:
                raise translate(exc, self._url) from exc
            for warning in check_server(info, self.config.redis):
                log.warning("%s", warning)
            self._opened = True
        return self

    async def close(self) -> None:
        """Close the connections this queue made (not a client passed in)."""
        if self._node_pipes is not None:
            await self._node_pipes.close()
        if self._lines is not None:
            await self._lines.close()
        if self._own_client:
            await self.client.aclose()

    async def __aenter__(self) -> AsyncTaskQueue:
        return await self.open()

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb_: TracebackType | None
    ) -> None:
        await self.close()

    # -- operations ------------------------------------------------------------------------

    async def push(self, task: Task) -> PushResult:
        """Add a task; idempotent by ``task_id``.

        Returns:
            ``PushResult``: ``created=False`` when a task with that id already existed.

        Raises:
            InvalidPayload: larger than ``queue.max_payload_bytes``; nothing written.
            TaskIdConflict: the id exists with another user or payload; nothing written.
            TenantMismatch: the user has work under another tenant; nothing written.
        """
        return (await self.run(routed.push(self.parts, [task])))[0]

    async def push_batch(self, tasks: Sequence[Task]) -> list[PushResult]:
        """Add many tasks in one round trip (per partition); one ``PushResult`` per task."""
        return await self.run(routed.push(self.parts, list(tasks)))

    async def pop(self) -> Task | None:
        """Lease the next task picked fairly for this worker, or None if nothing is ready."""
        tasks = await self.run(routed.pop(self.parts, 1))
        return tasks[0] if tasks else None

    async def pop_many(self, count: int) -> list[Task]:
        """Lease up to ``count`` tasks in one call, each picked by the fair round-robin."""
        return await self.run(routed.pop(self.parts, count))

    async def complete(self, task: Task, result: Any = None) -> AckResult:
        """Acknowledge a leased task with its JSON result.

        Returns:
            ``AckResult.OK``, or ``STALE`` when the lease was lost meanwhile (the task runs
            again elsewhere; this result is dropped).
        """
        return (await self.run(routed.complete(self.parts, [(task, result)])))[0]

    async def complete_many(self, items: Iterable[tuple[Task, Any]]) -> list[AckResult]:
        """Acknowledge many ``(task, result)`` pairs in one round trip."""
        return await self.run(routed.complete(self.parts, list(items)))

    async def fail(
        self, task: Task, error: BaseException | str, *, retry: bool = True
    ) -> AckResult:
        """Report a failed attempt: retried with backoff, or dead-lettered when exhausted.

        Args:
            task: the leased task.
            error: the exception (its type and message are kept) or a message.
            retry: False sends it to the dead-letter queue at once.
        """
        return (await self.run(routed.fail(self.parts, [ops.failure_of(task, error, retry)])))[0]

    async def fail_many(self, failures: Iterable[ops.Failure]) -> list[AckResult]:
        """Report many failed attempts in one call (see :func:`ops.failure_of`)."""
        return await self.run(routed.fail(self.parts, list(failures)))

    async def heartbeat(self, tasks: Iterable[Task]) -> dict[str, datetime | None]:
        """Extend leases: task id -> new deadline, or None where the lease was lost."""
        return await self.run(routed.heartbeat(self.parts, list(tasks)))

    async def release(self, tasks: Iterable[Task]) -> list[AckResult]:
        """Hand leased tasks back unfinished: ready again at once, attempt not counted."""
        return await self.run(routed.release(self.parts, list(tasks)))

    async def get_task(self, task_id: str) -> TaskInfo | None:
        """State, attempts, result or error of a task (None if unknown or expired)."""
        return await self.run(routed.get_task(self.parts, task_id))

    async def get_tasks(self, task_ids: Sequence[str]) -> list[TaskInfo | None]:
        """Many tasks in one round trip, in order (None for an unknown or expired id)."""
        return await self.run(routed.get_tasks(self.parts, list(task_ids)))

    async def parents(self, task_id: str) -> list[TaskInfo | None]:
        """The tasks ``task_id`` waits for (its ``after``), in order, with their states,
        results and errors: how a dependent task, or a group's callback, reads what its
        parents produced (None for a parent not pushed yet, or expired)."""
        return await self.run(routed.parents(self.parts, task_id))

    # -- groups ------------------------------------------------------------------------------

    async def group(self, tasks: Sequence[Task], then: Task | None = None) -> AsyncGroup:
        """Push ``tasks`` together (one round trip) and, with ``then``, a callback that runs
        once, after every one of them has ended, whatever their outcomes (a chord): it waits
        on them as its parents and reads their outcomes with :meth:`parents`.

        Returns:
            the group: ``wait``, ``result`` (every member's result), ``progress``, ``cancel``.
        """
        members = list(tasks)
        ids = [t.task_id for t in members]
        if then is not None:
            parents = tuple(dict.fromkeys([*then.after, *ids]))
            then = Task.create(
                then.user_id, then.priority, then.payload, then.task_id, then.execute_after,
                then.handler, then.max_attempts, delay=then.delay, tenant=then.tenant,
                cost=then.cost, after=parents, after_policy="any_end",
            )  # fmt: skip
            members.append(then)
        await self.push_batch(members)
        return AsyncGroup(self, ids, then.task_id if then is not None else None)

    async def dlq(self, limit: int = 100, offset: int = 0) -> list[DLQEntry]:
        """A page of the dead-letter queue, newest first."""
        return await self.run(routed.dlq_entries(self.parts, limit, offset))

    async def requeue_dead(self, task_ids: Sequence[str]) -> int:
        """Put dead tasks back to ready (same ids, attempts reset); returns how many moved."""
        return await self.run(routed.requeue_dead(self.parts, task_ids))

    async def stats(self) -> QueueStats:
        """Counters and per-user backlog."""
        return await self.run(routed.stats(self.parts))

    # -- waiting on a task, canceling it ---------------------------------------------------

    async def result(self, task_id: str, timeout: float | None = None) -> Any:
        """Wait for the task to end and return its result, from any process, by id: a
        blocking read of the task's events, no polling. A wait that loses its connection
        (or whose server restarts) arms again and goes on until ``timeout``.

        Args:
            task_id: the task's id.
            timeout: seconds to wait at most; None waits as long as it takes.

        Raises:
            TaskFailed: the task died (its error, error type, traceback tail, attempts).
            TaskCanceled: the task was canceled.
            ResultTimeout: it did not end within ``timeout`` (a ``TimeoutError``).
            TaskNotFound: no task has that id (or its result expired).
        """
        info = await self.wait(task_id, timeout)
        return waits.outcome(info)

    async def wait(self, task_id: str, timeout: float | None = None) -> TaskInfo:
        """Wait for the task to end (completed, dead or canceled) and return it as it ended,
        without raising for its outcome. Raises ResultTimeout and TaskNotFound as
        :meth:`result` does."""
        deadline = None if timeout is None else time.monotonic() + timeout
        armed: waits.Armed | None = None
        retry = 0.05
        while True:
            try:
                if armed is None:
                    armed = await self.run(waits.arm(self.parts, task_id))
                    if armed.info.ended:
                        return armed.info
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise ResultTimeout(f"task {task_id} did not end within {timeout} s")
                block = self._block_seconds(left)
                if await self.run(waits.wait_op(armed, block)):
                    return armed.info
                retry = 0.05
            except ServerUnreachable:
                # Arm again once the server answers (a restart, a dropped connection).
                armed = None
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= retry:
                    raise ResultTimeout(
                        f"task {task_id} did not end within {timeout} s (server unreachable)"
                    ) from None
                await asyncio.sleep(retry)
                retry = min(retry * 2, 1.0)

    async def watch(self, task_id: str, timeout: float | None = None) -> AsyncIterator[TaskEvent]:
        """The task's events as they happen (progress reports, retries, a cancel asked for),
        then its end (``event.final``, ``event.info``): blocking reads, no polling. Ends
        after the final event; raises ResultTimeout past ``timeout``, TaskNotFound for an
        unknown id."""
        deadline = None if timeout is None else time.monotonic() + timeout
        armed = await self.run(waits.arm(self.parts, task_id))
        while not armed.info.ended:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise ResultTimeout(f"task {task_id} did not end within {timeout} s")
            events = await self.run(waits.read_events(armed, self._block_seconds(left)))
            for event in events:
                if not event.final:
                    yield event
            if not events or any(e.final for e in events):
                await self.run(waits.reread(armed))
        yield TaskEvent(task_id=armed.info.task_id, kind="ended", info=armed.info)

    def _block_seconds(self, left: float | None) -> float:
        """One blocking read's length: under the socket timeout, never past the deadline."""
        chunk = self.config.redis.socket_timeout / 2
        return max(min(chunk, left) if left is not None else chunk, 0.001)

    async def cancel(self, task_id: str, *, by: str | None = None) -> CancelResult:
        """Cancel a task, whatever its state: a ready or delayed task is canceled at once
        (atomically: counts, backlog and the round-robin stay exact); a running one has its
        cancel recorded on its lease and its worker told (asyncio handlers get
        ``CancelledError``, sync handlers see ``cancel_requested``): it ends ``canceled``,
        never retried, never in the DLQ. An ended task is left as it is.

        Args:
            task_id: the task's id.
            by: who cancels, for the audit log and the task (``user@host`` by default).
        """
        return (await self.cancel_many([task_id], by=by))[0]

    async def cancel_many(
        self, task_ids: Sequence[str], *, by: str | None = None
    ) -> list[CancelResult]:
        """Cancel many tasks (see :meth:`cancel`); one result per id, in order."""
        who = by or f"{getpass.getuser()}@{socket.gethostname()}"
        ttl_ms = round(self.config.queue.result_ttl * 1000)
        return await self.run(control.cancel(self.parts, list(task_ids), who, ttl_ms))
