"""The snapshots the Inspector returns and the results of Admin operations (what the CLI
prints with ``--json`` and the TUI shows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class ServerInfo(_Model):
    name: str
    version: str
    uptime_seconds: int
    used_memory: int
    maxmemory: int
    maxmemory_policy: str


class ThroughputPoint(_Model):
    """Events in one minute."""

    minute: datetime
    pushed: int = 0
    popped: int = 0
    completed: int = 0
    failed: int = 0
    retried: int = 0
    dead: int = 0


class Totals(_Model):
    ready: int
    delayed: int
    inflight: int
    dead: int
    backlogged_users: int
    active_users: int  # in the round-robin now (backlogged, not paused, not capped)
    paused_users: int
    workers: int
    blocked: int = 0  # tasks waiting for their parents


class Overview(_Model):
    """The whole queue at a glance; a fixed number of round trips whatever its size."""

    queue: str
    fetched_at: datetime
    server: ServerInfo
    totals: Totals
    counters: dict[str, int]
    throughput: list[ThroughputPoint]  # the last 60 minutes, oldest first
    corrupt_records: int  # corrupt or phantom records met since the queue began
    corrupt_last_hour: int
    # Users paused because a queue key of theirs holds the wrong type: user -> why.
    quarantined: dict[str, str] = {}


class UserRow(_Model):
    """One user's line in the per-user table."""

    user_id: str
    tenant: str | None = None  # fair between tenants first, then between a tenant's users
    weight: float
    boosted_until: datetime | None = None
    # Fairness by time: the user's mean run time, what each dispatch is charged up front
    # (the lease's end replaces it with the real run time)
    mean_run_seconds: float | None = None
    ready: int
    critical: int
    by_priority: dict[int, int]  # priorities 1-5
    inflight: int
    blocked: int = 0  # tasks waiting for their parents (not ready: not in the round-robin)
    max_inflight: int | None
    capped: bool
    paused: bool
    cap_mode: str = "hard"  # soft: served over its cap when nobody else has ready work
    rate: str | None = None  # the rate limit in force ("50/s"), None: none
    burst: int | None = None
    tokens: int | None = None  # tokens left now (None: no limit)
    throttled_until: datetime | None = None  # out of the round-robin until its next token
    oldest_age_seconds: float | None
    p50_wait_ms: float | None
    p95_wait_ms: float | None
    served_5m: int
    served_share: float  # of everything dispatched in the last 5 minutes
    # What a perfectly fair scheduler would have given it of the same dispatches, given what
    # every user asked for (served + queued; weighted max-min, see monitoring/shares.py); 0
    # for a user that asked for nothing
    fair_share: float


class PendingTask(_Model):
    task_id: str
    priority: int
    age_seconds: float


class RunningTask(_Model):
    """A task in flight: whose, who runs it, for how long, how far it is."""

    task_id: str
    user_id: str | None = None
    worker_id: str | None
    run_seconds: float | None
    progress: float | None = None
    cancel_requested: bool = False


class UserDetail(_Model):
    row: UserRow
    pending: dict[int, list[PendingTask]]  # by priority, newest page first asked
    running: list[RunningTask] = Field(default_factory=list)  # in flight (the oldest first)
    pending_offset: int
    backlog_history: list[int]  # ready count at the end of each of the last 60 minutes
    fairness: str = "count"  # the queue's: what each dispatch is charged (count or time)
    tenant_weight: float | None = None  # the weight of the user's tenant (None: no tenant)


class UserPage(_Model):
    rows: list[UserRow]
    total_users: int
    offset: int


class Explanation(_Model):
    """Why a task is where it is and what runs before it (docs/fairness.md)."""

    task_id: str
    state: str
    user_id: str | None
    priority: int | None
    summary: str
    ahead_in_user: int | None = None  # this user's tasks that run before it
    dispatches_ahead: int | None = None  # estimated dispatches (all users) before it starts
    estimated_start_seconds: float | None = None
    user_pass: float | None = None
    virtual_time: float | None = None
    tenant: str | None = None
    tenant_pass: float | None = None  # the tenant's place in the round-robin
    fairness: str = "count"  # what a dispatch is charged for: count, or run time
    charge: float | None = None  # what this task's dispatch will be charged (turns or seconds)
    charge_basis: str | None = None  # "cost" (declared), "turn", "mean run time", "estimate"
    blocked_by: list[str] = Field(default_factory=list)
    worker_id: str | None = None
    lease_deadline: datetime | None = None
    due_at: datetime | None = None
    error: str | None = None
    # Its place among dependencies: the tasks it waits for (after) and the states of the first
    # 50; how many tasks wait for it, and the states of the first 50
    parents: list[str] = Field(default_factory=list)
    parent_states: dict[str, str] = Field(default_factory=dict)
    dependents: int = 0
    dependent_states: dict[str, str] = Field(default_factory=dict)


class DLQGroup(_Model):
    key: str
    count: int
    sample_task_ids: list[str]


class DLQGroups(_Model):
    by: str
    groups: list[DLQGroup]
    scanned: int
    total: int


class WorkerInfo(_Model):
    worker_id: str
    host: str | None
    pid: int | None
    kind: str | None
    status: str | None
    concurrency: int | None
    started_at: datetime | None
    last_beat: datetime | None
    inflight: int
    processed: int
    failed: int
    stolen: int
    stale: bool
    # What the worker registered (who it serves); None when it has no live registration.
    assigned_users: list[str] | None = None
    steal_targets: list[str] | str | None = None

    def registration_text(self, most: int = 3) -> tuple[str, str]:
        """(its users, what it steals) in a few words, for tables."""
        if self.assigned_users is None:
            return "(not registered)", "-"

        def few(names: list[str]) -> str:
            return ",".join(names[:most]) + (f" +{len(names) - most}" if len(names) > most else "")

        steal = self.steal_targets
        return few(self.assigned_users) or "-", (
            steal if isinstance(steal, str) else few(steal or [])
        ) or "-"


class Alert(_Model):
    rule: str
    severity: str  # "warning" or "critical"
    subject: str  # the user, worker or "queue"
    message: str
    since: datetime
    value: float


class AdminResult(_Model):
    """What an Admin operation did (or, with dry_run, would do)."""

    action: str
    matched: int
    touched: int
    dry_run: bool
    detail: dict[str, Any] = Field(default_factory=dict)


class AuditEntry(_Model):
    id: str
    at: datetime
    actor: str
    action: str
    target: str
    count: int
    detail: str


class TenantRow(_Model):
    """One tenant's line in the tenants table (``Inspector.tenants``)."""

    tenant: str
    weight: float  # its share of the workers against the other tenants (and solo users)
    users: int  # users known to belong to it (a user is forgotten when long idle)
    active_users: int  # users with ready work
    ready: int
    inflight: int
    blocked: int = 0
    served_5m: int  # tasks started in the share window
    served_share: float  # of every task started in the window
    fair_share: float  # water-filling over tenants and tenant-less users, by weight
    in_round_robin: bool  # has ready work and is taking turns (not throttled)
    rate: str | None = None  # the tenant's rate limit in force (all its users together)
    burst: int | None = None
    tokens: int | None = None
    throttled_until: datetime | None = None  # out of turn until its next token


class TenantDetail(_Model):
    """One tenant: its row, its users (the most backlogged first) and its tasks in flight."""

    row: TenantRow
    users: list[UserRow]
    total_users: int
    running: list[RunningTask] = Field(default_factory=list)


TAIL_EVENTS = ("completed", "failed", "dead", "canceled", "throttled", "requeued")


class TailEvent(_Model):
    """One event of the queue's live tail (``Inspector.tail``)."""

    id: str  # the stream entry it came in (one entry per script call)
    at: datetime  # the server's clock when the call ran
    event: str  # one of TAIL_EVENTS
    task_id: str | None  # None for a throttled user (no task)
    user_id: str
    tenant: str | None = None
    handler: str | None = None
    detail: str = ""  # run ms, the error, who canceled, why throttled


class TailPage(_Model):
    """Events after a cursor, oldest first, and the cursor to read on from."""

    events: list[TailEvent]
    cursor: list[str]  # the last entry read, per partition ("0-0": none yet)
    # Events the stream dropped (it keeps about 10,000 events) before they were read: the
    # reader fell behind and continues from the oldest kept.
    missed: bool = False


class UserSettingsView(_Model):
    weight: float
    max_inflight: int | None


class SettingsView(_Model):
    """A settings document: the one in force, or one a worker's configuration offers."""

    fingerprint: str
    default_weight: float
    max_payload_bytes: int
    dlq_max: int
    idle_user_seconds: float
    fairness: str = "count"  # what a dispatch is charged: one turn, or the task's run time
    tenants: dict[str, float] = Field(default_factory=dict)  # tenant -> weight (others: 1)
    users: dict[str, UserSettingsView]


class WorkerRoute(_Model):
    """One live registration: who the worker serves, and where the scripts look for it."""

    worker_id: str
    assigned_users: list[str]
    steal_targets: list[str] | str  # a list of users, or "*"
    expires_at: datetime | None
    home_pools: list[str]
    steal_pools: list[str] | str
    settings_fingerprint: str | None  # the settings its configuration offers (None: none)


class SettingsConflict(_Model):
    """A live worker whose configuration's settings differ from the ones in force."""

    worker_id: str
    settings_fingerprint: str
    differences: list[str]


class ConfigState(_Model):
    """What `fairque config show` prints: the settings in force, who wrote them, the routing
    derived from live registrations, and every disagreement."""

    queue: str
    settings: SettingsView | None  # None: never written (every user at the defaults)
    written_by: str | None
    written_at: datetime | None
    written_how: str | None  # "seed" (the first worker to offer) or "apply"
    routes: list[WorkerRoute]
    conflicts: list[SettingsConflict]
