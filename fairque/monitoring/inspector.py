"""``Inspector``: typed, read-only snapshots of one queue for the CLI, the TUI and metrics."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from fairque.core.config import FairQueueConfig
from fairque.core.exceptions import ServerError
from fairque.core.models import DLQEntry, TaskInfo
from fairque.monitoring import explain_ops, merge, user_ops
from fairque.monitoring import inspect_ops as io
from fairque.monitoring import read_helpers as rh
from fairque.monitoring.alerts import AlertInputs, AlertTracker, Finding, evaluate
from fairque.monitoring.config_ops import config_state
from fairque.monitoring.models import (
    Alert,
    AuditEntry,
    ConfigState,
    DLQGroups,
    Explanation,
    Overview,
    UserDetail,
    UserPage,
    WorkerInfo,
)
from fairque.queue import TaskQueue
from fairque.queue.ops import CommandCall, Op, QueueSession, gather, single
from fairque.scheduler import ScheduleInfo, TaskScheduler

T = TypeVar("T")
ALERT_TOP_USERS = 200  # per-user rules look at the users with the most backlog


class Inspector:
    """Read-only views of a queue. Keep one around to track since when alerts fire."""

    def __init__(
        self, config: FairQueueConfig | None = None, *, queue: TaskQueue | None = None
    ) -> None:
        self.config = config if config is not None else FairQueueConfig.load()
        self.queue = queue if queue is not None else TaskQueue(self.config)
        self._own_queue = queue is None
        self._tracker = AlertTracker()
        self.queue.open()

    def close(self) -> None:
        if self._own_queue:
            self.queue.close()

    def __enter__(self) -> Inspector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def session(self) -> Any:
        """Partition 0 (the only one of an unpartitioned queue): schedules, audit."""
        return self.queue.session

    @property
    def _sessions(self) -> list[QueueSession]:
        return self.queue.parts.sessions

    def _each(self, make: Callable[[QueueSession], Op[T]]) -> list[T]:
        """One operation per partition, side by side (the round trips of one)."""
        return self.queue.run(gather([make(s) for s in self._sessions]))

    def overview(self) -> Overview:
        return merge.overviews(self._each(io.overview))

    def users(
        self, offset: int = 0, limit: int = 50, sort: str = "backlog", include_idle: bool = False
    ) -> UserPage:
        """Per-user rows: by backlog (largest first) or by name; ``include_idle`` adds users
        with nothing queued that are in flight, paused or were served in the last minutes."""
        if len(self._sessions) == 1:
            return self.queue.run(
                user_ops.users(self.session, offset, limit, sort, include_idle=include_idle)
            )
        pages = self._each(
            lambda s: user_ops.users(s, 0, offset + limit, sort, include_idle=include_idle)
        )
        return merge.user_pages(pages, offset, limit, sort)

    def user(self, user_id: str, offset: int = 0, limit: int = 20) -> UserDetail:
        s = self.queue.parts.of_user(user_id)
        return self.queue.run(user_ops.user_detail(s, user_id, offset, limit))

    def task(self, task_id: str) -> TaskInfo | None:
        return self.queue.get_task(task_id)

    def explain(self, task_id: str) -> Explanation | None:
        found = self._each(lambda s: explain_ops.explain(s, task_id))
        return next((e for e in found if e is not None), None)

    def dlq(self, limit: int = 50, offset: int = 0) -> list[DLQEntry]:
        return self.queue.dlq(limit, offset)

    def dlq_groups(self, by: str = "error", scan: int = 10_000) -> DLQGroups:
        return merge.dlq_groups(self._each(lambda s: io.dlq_groups(s, by, scan)))

    def workers(self) -> list[WorkerInfo]:
        """Registered workers, each with the users it registered to serve."""
        stale = self.config.alerts.worker_stale_seconds
        found = merge.workers(self._each(lambda s: io.workers(s, stale)))
        routes = {r.worker_id: r for r in self.config_state().routes}
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

    def config_state(self) -> ConfigState:
        """The settings in force (who wrote them, when), the routing derived from the live
        workers' registrations, and every worker whose settings differ."""
        return merge.config_states(self._each(config_state))

    def schedules(self) -> list[ScheduleInfo]:
        return TaskScheduler(self.config, queue=self.queue).schedules()

    def audit(self, limit: int = 50) -> list[AuditEntry]:
        rows = self.queue.run(
            single(
                CommandCall(("XREVRANGE", self.session.keys.key("audit"), "+", "-", "COUNT", limit))
            )
        )
        out = []
        for entry_id, fields in rows:
            out.append(
                AuditEntry(
                    id=entry_id,
                    at=rh._ts(entry_id.split("-")[0]) or rh.server_now(["0", "0"])[0],
                    actor=fields.get("actor", "?"),
                    action=fields.get("action", "?"),
                    target=fields.get("target", ""),
                    count=rh._i(fields.get("count")),
                    detail=fields.get("detail", ""),
                )
            )
        return out

    def wait_histogram(self) -> dict[str, int]:
        """Wait (ready -> start) histogram: bucket upper bound in ms (or ``+Inf``) -> count,
        plus ``sum_ms``."""
        total: dict[str, int] = {}
        for raw in self._each(lambda s: single(CommandCall(("HGETALL", s.keys.key("waith"))))):
            for k, v in raw.items():
                total[k] = total.get(k, 0) + rh._i(v)
        return total

    def alert_inputs(self) -> AlertInputs:
        """What the alert rules need, in a handful of round trips."""
        cfg = self.config.alerts
        overview = self.overview()
        page = self.users(limit=ALERT_TOP_USERS)
        minute = int(overview.fetched_at.timestamp() // 60)
        window = max(1, math.ceil(cfg.starvation_seconds / 60))
        names = [r.user_id for r in page.rows]
        served: dict[str, int] = {}
        if names:
            for replies in self._each(
                lambda s: single(
                    [
                        CommandCall(("HMGET", s.keys.key("srv", minute=m), *names))
                        for m in range(minute - window + 1, minute + 1)
                    ]
                )
            ):
                for reply in replies:
                    for user, v in zip(names, reply, strict=True):
                        served[user] = served.get(user, 0) + rh._i(v)
        pushed: dict[str, int] = {}
        for replies in self._each(
            lambda s: single(
                [
                    CommandCall(("HGETALL", s.keys.key("psh", minute=m)))
                    for m in range(minute - 4, minute + 1)
                ]
            )
        ):
            for reply in replies:
                for user, v in reply.items():
                    pushed[user] = pushed.get(user, 0) + rh._i(v)
        state = self.config_state()
        return AlertInputs(overview, page.rows, served, pushed, self.workers(), state)

    def _wrong_type_keys(self) -> list[str]:
        wrong: list[str] = []
        for s in self._sessions:
            k = s.keys
            expected = {
                k.key("stats"): "hash",
                k.key("backlog"): "hash",
                k.key("ubacklog"): "zset",
                k.key("inflight"): "zset",
                k.key("delayed"): "zset",
                k.key("dlq"): "zset",
                k.key("paused"): "set",
                k.key("workers"): "zset",
                k.key("readyidx"): "zset",
                k.key("routes"): "hash",
                k.key("settings"): "hash",
            }
            types = self.queue.run(single([CommandCall(("TYPE", key)) for key in expected]))
            wrong += [
                key
                for (key, want), got in zip(expected.items(), types, strict=True)
                if got not in (want, "none")
            ]
        return wrong

    def alerts(self) -> list[Alert]:
        """Alerts firing now, each with since when (as seen by this Inspector)."""
        try:
            inputs = self.alert_inputs()
        except ServerError as exc:
            if "WRONGTYPE" not in str(exc):
                raise
            # A key of the wrong type (something wrote over it) breaks the snapshot itself.
            what = ", ".join(self._wrong_type_keys()) or "unknown"
            msg = f"queue unhealthy: keys of the wrong type: {what}"
            finding = Finding("queue_unhealthy", "critical", "queue", msg, 1)
            sec, usec = self.queue.run(single(CommandCall(("TIME",))))
            return self._tracker.update([finding], rh.server_now([sec, usec])[0])
        findings = evaluate(self.config.alerts, inputs)
        return self._tracker.update(findings, inputs.overview.fetched_at)
