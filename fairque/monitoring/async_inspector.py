"""``AsyncInspector``: typed, read-only snapshots of one queue for the CLI, the TUI and
metrics.

Every read is a sans-IO operation (``inspect_ops``, ``user_ops``, ``explain_ops``,
``activity_ops``, ``config_ops``, ``schedule_ops``); this class only drives them over a queue
connection and merges partitions. ``async_inspector.py`` is written by hand;
``inspector.py`` is generated from it by ``scripts/unasync.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from fairque.core.config import FairQueueConfig
from fairque.core.exceptions import ServerError
from fairque.core.models import DLQEntry, TaskInfo
from fairque.monitoring import activity_ops, explain_ops, merge, tail_ops, tenant_ops, user_ops
from fairque.monitoring import inspect_ops as io
from fairque.monitoring.alerts import AlertInputs, AlertTracker, Finding, evaluate
from fairque.monitoring.config_ops import config_state
from fairque.monitoring.models import (
    Alert,
    AuditEntry,
    ConfigState,
    DLQGroups,
    Explanation,
    Overview,
    RunningTask,
    TailPage,
    TenantDetail,
    TenantRow,
    UserDetail,
    UserPage,
    WorkerInfo,
)
from fairque.queue import AsyncTaskQueue
from fairque.queue.async_queue_user import AsyncQueueUser
from fairque.queue.ops import Op, QueueSession, gather
from fairque.scheduler.schedule_ops import ScheduleInfo, schedules

T = TypeVar("T")
ALERT_TOP_USERS = 200  # per-user rules look at the users with the most backlog


class AsyncInspector(AsyncQueueUser):
    """Read-only views of a queue. Keep one around to track since when alerts fire.

    Args:
        config: the queue's settings (``FairQueueConfig.load()`` when omitted).
        queue: a queue client to read through (its connection is shared; the caller closes
            it); one is made from ``config`` otherwise.
        shares_fresh: seconds a fair-share computation is reused (0, the default: every read
            is exact; the TUI uses 1 s, so one refresh reads each user's backlog once).

    Every method may raise ``ServerUnreachable`` (or another ``FairQueueError``) when the
    server cannot answer. Nothing here writes to the server: an account limited to reads
    (see docs/operations.md) can run every method.
    """

    def __init__(
        self,
        config: FairQueueConfig | None = None,
        *,
        queue: AsyncTaskQueue | None = None,
        shares_fresh: float = 0.0,
    ) -> None:
        super().__init__(config, queue=queue)
        # Fair shares read at most this often (seconds; 0: every read): a live view's
        # tables and alerts of one refresh then read each user's backlog once.
        for s in self._sessions:
            s.shares_fresh_ms = round(shares_fresh * 1000)  # type: ignore[attr-defined]
        self._tracker = AlertTracker()
        # unasync: sync-only self.queue.open()  # the sync form checks the server at once

    @property
    def session(self) -> Any:
        """Partition 0 (the only one of an unpartitioned queue): schedules, audit."""
        return self.queue.session

    @property
    def _sessions(self) -> list[QueueSession]:
        return self.queue.parts.sessions

    async def _each(self, make: Callable[[QueueSession], Op[T]]) -> list[T]:
        """One operation per partition, side by side (the round trips of one)."""
        return await self.queue.run(gather([make(s) for s in self._sessions]))

    async def overview(self) -> Overview:
        """Counters, rates, wait percentiles, the server and its memory, in one snapshot."""
        return merge.overviews(await self._each(io.overview))

    async def users(
        self, offset: int = 0, limit: int = 50, sort: str = "backlog", include_idle: bool = False
    ) -> UserPage:
        """A page of per-user rows.

        Args:
            offset, limit: the page.
            sort: ``backlog`` (largest first), ``wait`` (p95, longest first) or ``name``.
            include_idle: add users with nothing queued that are in flight, paused or were
                served in the last minutes.
        """
        if len(self._sessions) == 1:
            return await self.queue.run(
                user_ops.users(self.session, offset, limit, sort, include_idle=include_idle)
            )
        pages = await self._each(
            lambda s: user_ops.users(s, 0, offset + limit, sort, include_idle=include_idle)
        )
        return merge.user_pages(pages, offset, limit, sort)

    async def user(self, user_id: str, offset: int = 0, limit: int = 20) -> UserDetail:
        """One user: settings in force, limits, backlog by priority and a page of its tasks."""
        s = self.queue.parts.of_user(user_id)
        return await self.queue.run(user_ops.user_detail(s, user_id, offset, limit))

    async def tenants(self) -> list[TenantRow]:
        """Every tenant: users, backlog, in flight, weight, rate limit, served against fair
        share (the most backlogged first). A fixed number of round trips; each reads the
        queue's per-user hashes whole (about 60 ms at 100,000 users)."""
        return tenant_ops.merge_tenants(await self._each(tenant_ops.tenant_counts))

    async def tenant(self, tenant: str, limit: int = 200) -> TenantDetail | None:
        """One tenant: its row, its ``limit`` most backlogged users and their tasks in flight
        (None: no such tenant now)."""
        counts = await self._each(tenant_ops.tenant_counts)
        row = next((r for r in tenant_ops.merge_tenants(counts) if r.tenant == tenant), None)
        if row is None:
            return None
        parts = await self.queue.run(
            gather([tenant_ops.tenant_users(s, tenant_ops.members(c, tenant), limit)
                    for s, c in zip(self._sessions, counts, strict=True)])
        )  # fmt: skip
        rows = sorted((r for p in parts for r in p[0]), key=lambda r: (-r.ready, r.user_id))
        running = sorted((t for p in parts for t in p[1]), key=lambda t: -(t.run_seconds or 0))
        return TenantDetail(row=row, users=rows[:limit], total_users=row.users, running=running)

    async def worker_tasks(self, worker_id: str) -> list[RunningTask]:
        """The tasks ``worker_id`` holds now (every partition), the longest running first."""
        held = await self._each(lambda s: user_ops.worker_tasks(s, worker_id))
        return sorted((t for part in held for t in part), key=lambda t: -(t.run_seconds or 0))

    async def task(self, task_id: str) -> TaskInfo | None:
        """A task's state, attempts, result or error (None if unknown or expired)."""
        return await self.queue.get_task(task_id)

    async def explain(self, task_id: str) -> Explanation | None:
        """Why a ready task waits: its place in its user's queue and the user's turn."""
        found = await self._each(lambda s: explain_ops.explain(s, task_id))
        return next((e for e in found if e is not None), None)

    async def dlq(self, limit: int = 50, offset: int = 0) -> list[DLQEntry]:
        """A page of the dead-letter queue, newest first."""
        return await self.queue.dlq(limit, offset)

    async def dlq_groups(self, by: str = "error", scan: int = 10_000) -> DLQGroups:
        """Dead tasks grouped by ``error`` type or ``user`` (the newest ``scan`` looked at)."""
        return merge.dlq_groups(await self._each(lambda s: io.dlq_groups(s, by, scan)))

    async def workers(self) -> list[WorkerInfo]:
        """Registered workers, each with the users it registered to serve."""
        stale = self.config.alerts.worker_stale_seconds
        found = merge.workers(await self._each(lambda s: io.workers(s, stale)))
        routes = {r.worker_id: r for r in (await self.config_state()).routes}
        return [
            w.model_copy(
                update={
                    "assigned_users": routes[w.worker_id].assigned_users,
                    "steal_targets": routes[w.worker_id].steal_targets,
                }
            )
            if w.worker_id in routes
            else w
            for w in found
        ]

    async def config_state(self) -> ConfigState:
        """The settings in force (who wrote them, when), the routing derived from the live
        workers' registrations, and every worker whose settings differ."""
        return merge.config_states(await self._each(config_state))

    async def schedules(self) -> list[ScheduleInfo]:
        """Every schedule with its last and next run."""
        return await self.queue.run(schedules(self.session))

    async def audit(self, limit: int = 50) -> list[AuditEntry]:
        """The newest operator actions (Admin writes one entry per change)."""
        return await self.queue.run(activity_ops.audit(self.session, limit))

    async def tail(self, cursor: list[str] | None = None, limit: int = 2000) -> TailPage:
        """The queue's live events (completed, failed, dead, canceled, throttled, requeued)
        after ``cursor`` (the ``cursor`` of the last page; None: the newest ``limit`` stream
        entries), oldest first, each with its user's tenant. One stream read per partition;
        a page holds up to ``limit`` entries per partition (an entry per script call: a
        call that ends many tasks is one entry), so a reader that gets a full page reads
        again at once."""
        sessions = self._sessions
        after = cursor if cursor is not None and len(cursor) == len(sessions) else None
        pages = await self.queue.run(
            gather([tail_ops.tail(s, after[i] if after else None, limit)
                    for i, s in enumerate(sessions)])
        )  # fmt: skip
        events = sorted((e for part in pages for e in part[0]), key=lambda e: (e.at, e.id))
        return TailPage(
            events=events,
            cursor=[part[1] for part in pages],
            missed=any(part[2] for part in pages),
        )

    async def wait_histogram(self) -> dict[str, int]:
        """Wait (ready -> start) histogram: bucket upper bound in ms (or ``+Inf``) -> count,
        plus ``sum_ms``."""
        return activity_ops.summed(await self._each(activity_ops.wait_histogram))

    async def alert_inputs(self) -> AlertInputs:
        """What the alert rules need, in a handful of round trips."""
        cfg = self.config.alerts
        overview = await self.overview()
        page = await self.users(limit=ALERT_TOP_USERS)
        minute = int(overview.fetched_at.timestamp() // 60)
        window = max(1, math.ceil(cfg.starvation_seconds / 60))
        names = [r.user_id for r in page.rows]
        recent = range(minute - window + 1, minute + 1)
        served = await self._each(lambda s: activity_ops.served(s, names, recent))
        pushes = await self._each(
            lambda s: activity_ops.pushes(s, names, range(minute - 4, minute + 1))
        )
        state = await self.config_state()
        unserved = await self._each(activity_ops.unserved)
        return AlertInputs(
            overview,
            page.rows,
            activity_ops.summed(served),
            activity_ops.summed([p[0] for p in pushes]),
            await self.workers(),
            state,
            activity_ops.summed(unserved),
            pushed_total=sum(p[1] for p in pushes),
            pushers=max(p[2] for p in pushes),
        )

    async def alerts(self) -> list[Alert]:
        """Alerts firing now, each with since when (as seen by this Inspector)."""
        try:
            inputs = await self.alert_inputs()
        except ServerError as exc:
            if "WRONGTYPE" not in str(exc):
                raise
            # A key of the wrong type (something wrote over it) breaks the snapshot itself.
            wrong = await self._each(activity_ops.wrong_type_keys)
            what = ", ".join(key for keys in wrong for key in keys) or "unknown"
            msg = f"queue unhealthy: keys of the wrong type: {what}"
            finding = Finding("queue_unhealthy", "critical", "queue", msg, 1)
            now = await self.queue.run(activity_ops.server_time(self.session))
            return self._tracker.update([finding], now)
        findings = evaluate(self.config.alerts, inputs)
        return self._tracker.update(findings, inputs.overview.fetched_at)
