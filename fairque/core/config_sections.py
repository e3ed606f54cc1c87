"""The sections of the configuration that describe processes rather than the queue: workers,
the scheduler, alerts."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fairque.core.schedule import ScheduledTask
from fairque.core.validation import check_user_id


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


def _split_list(value: Any) -> Any:
    if isinstance(value, str) and value != "*":
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class WorkerConfig(_Section):
    """One worker's identity and scope: its own users first, then the users it may steal.

    A worker that names neither ``assigned_users`` nor ``steal_targets`` serves every user
    (``steal_targets = "*"``), as ``fairque worker`` does: an entry can never register a
    scope that serves nobody."""

    id: str
    assigned_users: list[str] = Field(default_factory=list)
    steal_targets: list[str] | Literal["*"] = Field(default_factory=list)
    concurrency: int = Field(default=1, ge=1, le=10_000)
    heartbeat_interval: float | None = Field(
        default=None, gt=0, description="lease heartbeat period; default visibility_timeout / 4"
    )
    task_timeout: float | None = Field(default=None, gt=0, description="per-task time limit")
    shutdown_grace: float = Field(default=5.0, ge=0, description="time to finish on stop")
    poll_interval: float = Field(default=0.05, gt=0, le=5, description="longest idle poll wait")
    cancel_grace: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        description="after a running task's cancel, how long a sync handler has to stop by "
        "itself before its slot is freed (its late result dropped)",
    )
    steal_after: float = Field(
        default=0.2,
        ge=0,
        le=3600,
        description="steal a user's work only once it waited this long, if a worker is "
        "assigned that user (it gets the first chance); 0 = at once",
    )
    partitions: list[int] | None = Field(
        default=None, description="the partitions this worker consumes (default: all)"
    )
    health_port: int | None = Field(
        default=None, ge=0, le=65535, description="serve /healthz, /readyz, /metrics here"
    )
    health_host: str = Field(default="127.0.0.1", description="address of the probe server")
    log_format: Literal["text", "json"] = Field(default="text", description="`fairque worker` logs")
    log_tasks: bool = Field(default=False, description="a log line per completed task too")
    log_payloads: bool = Field(default=False, description="payloads in task log lines")

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return check_user_id(value)

    @field_validator("assigned_users", "steal_targets", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("assigned_users")
    @classmethod
    def _assigned(cls, value: list[str]) -> list[str]:
        for user in value:
            check_user_id(user)
        return value

    @field_validator("steal_targets")
    @classmethod
    def _steal(cls, value: list[str] | Literal["*"]) -> list[str] | Literal["*"]:
        if value != "*":
            for user in value:
                check_user_id(user)
        return value

    @model_validator(mode="after")
    def _serves_someone(self) -> WorkerConfig:
        if not self.assigned_users and not self.steal_targets:
            self.steal_targets = "*"
        return self


class SchedulerConfig(_Section):
    """The cron scheduler's leader lock, tick, and schedules declared in the config."""

    lock_ttl_seconds: float = Field(default=10.0, gt=0)
    tick_seconds: float = Field(default=1.0, gt=0)
    schedules: list[ScheduledTask] = Field(default_factory=list)

    @model_validator(mode="after")
    def _tick_fits(self) -> SchedulerConfig:
        if self.tick_seconds * 2 > self.lock_ttl_seconds:
            raise ValueError("scheduler.tick_seconds must be at most half of lock_ttl_seconds")
        return self


class AlertsConfig(_Section):
    """Thresholds of the alert rules (docs/operations.md); each rule can be tuned, none
    switched off."""

    dlq_size: int = Field(default=100, ge=1, description="dead tasks in the DLQ")
    dlq_growth_5m: int = Field(default=50, ge=1, description="tasks buried in 5 minutes")
    backlog: int = Field(default=10_000, ge=1, description="ready tasks of one user")
    oldest_age_seconds: float = Field(default=600, gt=0, description="a user's oldest ready task")
    starvation_seconds: float = Field(default=300, gt=0, description="backlogged, not served")
    noisy_factor: float = Field(default=5.0, gt=1, description="push share over fair share")
    noisy_min_pushes_5m: int = Field(default=1000, ge=1)
    worker_stale_seconds: float = Field(default=60, gt=0, description="no heartbeat for this long")
    failure_rate: float = Field(default=0.2, gt=0, le=1, description="failed / finished, 5 min")
    failure_min_events_5m: int = Field(default=20, ge=1)
    memory_ratio: float = Field(default=0.9, gt=0, le=1, description="used / maxmemory")
