"""Fixed data behind the TUI's DataSource interface, for snapshot tests (no server, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fairque.core.models import DLQEntry, Priority, TaskInfo, TaskState
from fairque.monitoring.models import (
    AdminResult,
    Alert,
    DLQGroup,
    DLQGroups,
    Explanation,
    Overview,
    PendingTask,
    RunningTask,
    ServerInfo,
    TailEvent,
    TailPage,
    TenantDetail,
    TenantRow,
    ThroughputPoint,
    Totals,
    UserDetail,
    UserPage,
    UserRow,
    WorkerInfo,
)
from fairque.scheduler import ScheduledTask, ScheduleInfo
from fairque_tui.source import OverviewData, sort_rows

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def frozen_clock() -> datetime:
    return NOW


def frozen_timer() -> float:
    return 0.0


def _row(user: str, ready: int, **kw: object) -> UserRow:
    base = {
        "user_id": user, "weight": 1.0, "ready": ready, "critical": 0,
        "by_priority": {5: 0, 4: 0, 3: ready, 2: 0, 1: 0}, "inflight": 1 if ready else 0,
        "max_inflight": None, "capped": False, "paused": False,
        "oldest_age_seconds": float(ready) / 10 if ready else None,
        "p50_wait_ms": 12.0, "p95_wait_ms": 40.0 + ready / 100, "served_5m": 100,
        "served_share": 1 / 12, "fair_share": 1 / 12,
    }  # fmt: skip
    base.update(kw)
    return UserRow(**base)  # type: ignore[arg-type]


ROWS = [
    _row("noisy", 18_342, served_share=0.09, p95_wait_ms=3_900.0, oldest_age_seconds=41.0,
         by_priority={5: 0, 4: 0, 3: 18_342, 2: 0, 1: 0}, tenant="bigcorp",
         mean_run_seconds=0.012),
    _row("tenant-01", 4, weight=2.0, served_share=0.17, fair_share=0.17),
    _row("tenant-02", 2, critical=1),
    _row("tenant-03", 0, paused=True),
    _row("tenant-04", 7, by_priority={5: 3, 4: 0, 3: 2, 2: 2, 1: 0}),
    _row("tenant-05", 1, max_inflight=1, capped=True),
    _row("tenant-06", 3, rate="20/s", burst=2, tokens=0,
         throttled_until=NOW + timedelta(seconds=1)),
    *[_row(f"tenant-{i:02d}", i % 3) for i in range(7, 12)],
]  # fmt: skip

THROUGHPUT = [
    ThroughputPoint(
        minute=NOW - timedelta(minutes=59 - i),
        pushed=0 if i < 45 else 2_000 + 150 * (i - 45),
        completed=0 if i < 45 else 1_800 + 140 * (i - 45),
        failed=0 if i < 45 else 20 + (i % 4) * 5,
    )
    for i in range(60)
]

WORKERS = [
    WorkerInfo(worker_id="demo-threads", host="box", pid=4242, kind="threads", status="running",
               concurrency=4, started_at=NOW - timedelta(minutes=12),
               last_beat=NOW - timedelta(seconds=1), inflight=4, processed=21_034, failed=611,
               stolen=3_102, stale=False, assigned_users=["acme", "globex"], steal_targets="*"),
    WorkerInfo(worker_id="demo-asyncio", host="box", pid=4243, kind="asyncio", status="running",
               concurrency=8, started_at=NOW - timedelta(minutes=12),
               last_beat=NOW - timedelta(seconds=2), inflight=8, processed=40_112, failed=1_204,
               stolen=5_877, stale=False, assigned_users=[], steal_targets="*"),
    WorkerInfo(worker_id="old-box", host="box2", pid=99, kind="threads", status="running",
               concurrency=2, started_at=NOW - timedelta(hours=3),
               last_beat=NOW - timedelta(minutes=4), inflight=2, processed=77, failed=0,
               stolen=0, stale=True),
]  # fmt: skip

ALERTS = [
    Alert(rule="backlog", severity="warning", subject="noisy",
          message="noisy has 18342 ready tasks", since=NOW - timedelta(minutes=3), value=18342),
    Alert(rule="worker_heartbeat", severity="critical", subject="old-box",
          message="worker old-box sent no heartbeat for 240 s",
          since=NOW - timedelta(minutes=2), value=240),
]  # fmt: skip

OVERVIEW = Overview(
    queue="demo",
    fetched_at=NOW,
    server=ServerInfo(name="valkey", version="8.1.8", uptime_seconds=3600, used_memory=48_000_000,
                      maxmemory=0, maxmemory_policy="noeviction"),
    totals=Totals(ready=18_378, delayed=12, inflight=14, dead=57, backlogged_users=11,
                  active_users=10, paused_users=1, workers=3),
    counters={"pushed": 80_000, "completed": 61_000},
    throughput=THROUGHPUT,
    corrupt_records=0,
    corrupt_last_hour=0,
)  # fmt: skip

DLQ = [
    DLQEntry(task_id=f"task-{i:04d}", user_id=f"tenant-{i % 5 + 1:02d}", priority=Priority.NORMAL,
             payload={"order": 1000 + i, "fail": True}, handler=None, attempts=2,
             error="payment provider said no (a demo failure)" if i % 3 else "timeout after 30 s",
             error_type="RuntimeError" if i % 3 else "TaskTimeout",
             traceback='Traceback (most recent call last):\n  File "demo.py", line 120, in '
                       "__call__\nRuntimeError: payment provider said no",
             worker_id="demo-threads", failed_at=NOW - timedelta(seconds=7 * i))
    for i in range(30)
]  # fmt: skip

SCHEDULES = [
    ScheduleInfo(
        schedule=ScheduledTask(name="nightly-report", cron="0 3 * * *", user_id="reports",
                               timezone="Europe/Paris", priority=2, payload={"kind": "daily"}),
        source="config", last_run=NOW - timedelta(hours=10), next_run=NOW + timedelta(hours=14),
    ),
    ScheduleInfo(
        schedule=ScheduledTask(name="heartbeat-ping", cron="*/5 * * * *", user_id="ops",
                               enabled=False),
        source="api", last_run=None, next_run=NOW + timedelta(minutes=5),
    ),
]  # fmt: skip


def _tenant(name: str, ready: int, **kw: object) -> TenantRow:
    base = {
        "tenant": name, "weight": 1.0, "users": 3, "active_users": 2 if ready else 0,
        "ready": ready, "inflight": 2 if ready else 0, "served_5m": 300, "served_share": 0.25,
        "fair_share": 0.25, "in_round_robin": bool(ready),
    }  # fmt: skip
    base.update(kw)
    return TenantRow(**base)  # type: ignore[arg-type]


TENANTS = [
    _tenant("bigcorp", 18_342, users=40, active_users=38, weight=3.0, served_share=0.52,
            fair_share=0.6),
    _tenant("smallco", 12, served_share=0.31, fair_share=0.3),
    _tenant("ratelimited", 40, rate="10/s", burst=5, tokens=0,
            throttled_until=NOW + timedelta(milliseconds=400), in_round_robin=False,
            served_share=0.1, fair_share=0.1),
    _tenant("quiet", 0, served_share=0.0, fair_share=0.0),
]  # fmt: skip

TAIL = [
    TailEvent(id=f"1767268800000-{i}", at=NOW - timedelta(seconds=20 - i), event=event,
              task_id=None if event == "throttled" else f"task-{i:04d}", user_id=user,
              tenant=tenant, handler=None if event == "throttled" else "send-invoice",
              detail=detail)
    for i, (event, user, tenant, detail) in enumerate([
        ("completed", "noisy", "bigcorp", "12"),
        ("completed", "tenant-01", None, "8"),
        ("failed", "tenant-02", None, "payment provider said no (a demo failure)"),
        ("throttled", "tenant-06", None, "rate limit: next token in 50 ms"),
        ("dead", "tenant-02", None, "timeout after 30 s"),
        ("canceled", "noisy", "bigcorp", "ops@box"),
        ("requeued", "tenant-02", None, "from the DLQ"),
        ("completed", "noisy", "bigcorp", "11"),
    ])
]  # fmt: skip


class FixedSource:
    """The same answers every time; mutations are recorded, not applied."""

    label = "redis://127.0.0.1:6379/0"
    queue = "demo"

    def __init__(self, read_only: bool = False, dead: int = len(DLQ)) -> None:
        self.read_only = read_only
        self.calls: list[tuple[str, object]] = []
        # ``dead`` entries: DLQ repeated with fresh ids (a long page scrolls)
        self.dead = [
            DLQ[i % len(DLQ)].model_copy(update={"task_id": f"task-{i:04d}"}) for i in range(dead)
        ]

    async def overview(self, sort: str) -> OverviewData:
        page = UserPage(rows=ROWS, total_users=len(ROWS), offset=0)
        return OverviewData(OVERVIEW, sort_rows(page, sort), WORKERS, ALERTS)

    async def user(self, user_id: str, offset: int, limit: int) -> UserDetail:
        row = next(r for r in ROWS if r.user_id == user_id)
        pending = {
            p: [
                PendingTask(task_id=f"{user_id}-p{p}-{i:03d}", priority=p, age_seconds=40.0 - i)
                for i in range(offset, offset + (limit if p == 3 else 2))
            ]
            for p in (6, 3, 1)
        }
        history = [0] * 45 + [500 * i for i in range(15)]
        running = [
            RunningTask(task_id=f"{user_id}-run-1", worker_id="w-7", run_seconds=12.5,
                        progress=0.4),
            RunningTask(task_id=f"{user_id}-run-2", worker_id="w-7", run_seconds=3.0,
                        cancel_requested=True),
        ]  # fmt: skip
        return UserDetail(
            row=row, pending=pending, running=running, pending_offset=offset,
            backlog_history=history, fairness="time",
            tenant_weight=2.0 if row.tenant else None,
        )  # fmt: skip

    async def tenants(self) -> list[TenantRow]:
        return TENANTS

    async def tenant(self, tenant: str) -> TenantDetail | None:
        row = next((t for t in TENANTS if t.tenant == tenant), None)
        if row is None:
            return None
        users = [r.model_copy(update={"tenant": tenant}) for r in ROWS[:3]]
        running = [RunningTask(task_id="noisy-run-1", user_id="noisy", worker_id="w-7",
                               run_seconds=12.5, progress=0.4)]  # fmt: skip
        return TenantDetail(row=row, users=users, total_users=row.users, running=running)

    async def tail(self, cursor: list[str] | None) -> TailPage:
        # Everything once, then nothing new (a quiet queue).
        return TailPage(events=TAIL if cursor is None else [], cursor=[TAIL[-1].id])

    async def task(self, task_id: str) -> TaskInfo | None:
        """A report that completed: the join of a small DAG (the task screen's snapshot)."""
        return TaskInfo(
            task_id=task_id, user_id="tenant-03", priority=4, state=TaskState.COMPLETED,
            attempts=1, max_attempts=3, handler="build-report",
            payload={"customer": "tenant-03", "month": "2025-12", "email": "[b]ops@x[/b]"},
            result={"pages": 12, "url": "https://reports.example/tenant-03/2025-12.pdf"},
            worker_id="w-threads-1", created_at=NOW - timedelta(minutes=3),
            started_at=NOW - timedelta(seconds=40), finished_at=NOW - timedelta(seconds=2),
            progress=1.0, progress_note={"step": "upload"},
            parents=("fetch-1", "fetch-2", "fetch-3"), after_policy="all_complete",
            dependents=("notify-42",),
        )  # fmt: skip

    async def explain(self, task_id: str) -> Explanation | None:
        if task_id == "report-42":
            return Explanation(
                task_id=task_id, state="completed", user_id="tenant-03", priority=4,
                summary="completed; nothing will run it again",
                parents=["fetch-1", "fetch-2", "fetch-3"],
                parent_states={"fetch-1": "completed", "fetch-2": "completed",
                               "fetch-3": "completed"},
                dependents=1, dependent_states={"notify-42": "ready"},
            )  # fmt: skip
        return Explanation(
            task_id=task_id, state="ready", user_id="noisy", priority=3,
            summary="ready: 12 of this user's tasks run before it",
            ahead_in_user=12, dispatches_ahead=130, estimated_start_seconds=0.4,
        )  # fmt: skip

    async def dlq(self, offset: int, limit: int) -> list[DLQEntry]:
        return self.dead[offset : offset + limit]

    async def dlq_groups(self, by: str) -> DLQGroups:
        groups: dict[str, list[str]] = {}
        for e in DLQ:
            groups.setdefault(e.error if by == "error" else e.user_id, []).append(e.task_id)
        return DLQGroups(
            by=by,
            groups=[
                DLQGroup(key=k, count=len(v), sample_task_ids=v[:3]) for k, v in groups.items()
            ],
            scanned=len(DLQ),
            total=len(DLQ),
        )

    async def workers(self) -> list[WorkerInfo]:
        return WORKERS

    async def schedules(self) -> list[ScheduleInfo]:
        return SCHEDULES

    async def alerts(self) -> list[Alert]:
        return ALERTS

    def bench_url(self) -> str | None:
        return None

    def _record(self, action: str, what: object) -> AdminResult:
        self.calls.append((action, what))
        return AdminResult(action=action, matched=1, touched=1, dry_run=False)

    async def requeue(self, **kw: object) -> AdminResult:
        return self._record("requeue", kw)

    async def purge(self, **kw: object) -> AdminResult:
        return self._record("purge", kw)

    async def drain(self, user: str) -> AdminResult:
        return self._record("drain", user)

    async def cancel(self, task_id: str) -> AdminResult:
        return self._record("cancel", task_id)

    async def retry_now(self, task_id: str) -> AdminResult:
        return self._record("retry_now", task_id)

    async def pause(self, user: str) -> AdminResult:
        return self._record("pause", user)

    async def resume(self, user: str) -> AdminResult:
        return self._record("resume", user)

    async def close(self) -> None:
        pass
