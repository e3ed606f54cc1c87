"""Configuration: ``fairque.toml`` and ``FAIRQUE_*`` environment variables.

Precedence, highest first: arguments given in code, environment variables, the TOML file,
defaults. Nested fields use ``__`` in env var names (``FAIRQUE_QUEUE__AGING_SECONDS=60``);
``FAIRQUE_REDIS_URL``, ``FAIRQUE_REDIS_CLUSTER`` and ``FAIRQUE_QUEUE`` (the queue name) are
accepted as shortcuts. Every model forbids unknown keys, and every error names its field.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from fairque.core.codec import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH
from fairque.core.config_file import DEFAULT_CONFIG_FILE, config_file
from fairque.core.config_sections import AlertsConfig, SchedulerConfig, WorkerConfig, _Section
from fairque.core.config_sources import (
    ENV_PREFIX,
    describe_validation_error,
    env_settings,
    layered,
    toml_path,
    toml_settings,
)
from fairque.core.exceptions import ConfigError
from fairque.core.rates import default_burst, parse_rate
from fairque.core.validation import check_queue_name, check_tenant_id, check_user_id


def default_worker_id() -> str:
    """A worker's id when none is given: this host and process (unique while it runs)."""
    import socket

    return f"{socket.gethostname()}-{os.getpid()}"


__all__ = [
    "DEFAULT_CONFIG_FILE",
    "ENV_PREFIX",
    "AlertsConfig",
    "FairQueueConfig",
    "QueueConfig",
    "RedisConfig",
    "SchedulerConfig",
    "TenantSettings",
    "UserSettings",
    "WorkerConfig",
    "describe_validation_error",
]


class RedisConfig(_Section):
    """How to reach the server."""

    url: str = "redis://localhost:6379/0"
    cluster: bool = False
    socket_timeout: float = Field(default=5.0, gt=0)
    socket_connect_timeout: float = Field(default=5.0, gt=0)
    max_connections: int = Field(default=64, ge=1)
    require_noeviction: bool = Field(
        default=True, description="refuse a server whose maxmemory-policy may evict keys"
    )
    durability: Literal["none", "aof", "replicas"] = Field(
        default="none", description="what a push waits for: nothing, an fsync, replicas"
    )
    durability_replicas: int = Field(default=1, ge=1, description="replicas to wait for")
    durability_timeout_ms: int = Field(default=1000, ge=1, le=60_000)
    scripts: Literal["functions", "eval"] = Field(
        default="functions",
        description="call the Lua scripts as a function library (loaded once) or by EVALSHA",
    )
    # TLS is chosen by the URL scheme (rediss://); these name the files it uses.
    tls_ca_file: str | None = Field(default=None, description="CA bundle to verify the server")
    tls_cert_file: str | None = Field(default=None, description="client certificate (mTLS)")
    tls_key_file: str | None = Field(default=None, description="client private key (mTLS)")
    tls_check_hostname: bool = Field(default=True, description="verify the server's name")

    @model_validator(mode="after")
    def _tls_needs_rediss(self) -> RedisConfig:
        files = {
            "tls_ca_file": self.tls_ca_file,
            "tls_cert_file": self.tls_cert_file,
            "tls_key_file": self.tls_key_file,
        }
        given = [name for name, value in files.items() if value]
        if given and not self.url.startswith("rediss://"):
            raise ValueError(f"{', '.join(given)} set but url is not rediss:// (TLS is off)")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("tls_cert_file and tls_key_file go together (mutual TLS)")
        for name, value in files.items():
            if value and not Path(value).is_file():
                raise ValueError(f"{name}: no such file {value!r}")
        return self


def _check_rate(value: str | None) -> str | None:
    if value is not None:
        parse_rate(value)
    return value


def _limit(rate: str | None, burst: int | None) -> tuple[float, int] | None:
    """(tasks per second, burst) of a rate setting; None without one."""
    if rate is None:
        return None
    per_second = parse_rate(rate)
    return per_second, burst or default_burst(per_second)


class _Limited(_Section):
    """A rate limit: ``rate = "50/s"`` (or ``/m``, ``/h``) with ``burst`` tokens."""

    rate: str | None = Field(default=None, description="most tasks dispatched: N/s, N/m or N/h")
    burst: int | None = Field(
        default=None, ge=1, description="tokens a limited user can spend at once"
    )

    _rate = field_validator("rate")(classmethod(lambda cls, v: _check_rate(v)))

    def limit(self) -> tuple[float, int] | None:
        """(tasks per second, burst) or None."""
        return _limit(self.rate, self.burst)


class UserSettings(_Limited):
    """Per-user scheduling settings."""

    weight: float = Field(default=1.0, gt=0, le=1_000_000)
    max_inflight: int | None = Field(default=None, ge=1)
    max_inflight_mode: Literal["hard", "soft"] | None = Field(
        default=None, description="this user's cap mode (default: queue.max_inflight_mode)"
    )


class TenantSettings(_Limited):
    """Per-tenant scheduling settings: a tenant's share of the workers is its weight over the
    weights of every tenant (and tenant-less user) with ready work; ``rate`` limits all its
    users together."""

    weight: float = Field(default=1.0, gt=0, le=1_000_000)


class QueueConfig(_Section):
    """Behaviour of one queue."""

    name: str = "default"
    users: dict[str, UserSettings] = Field(default_factory=dict)
    tenants: dict[str, TenantSettings] = Field(default_factory=dict)
    default_rate: str | None = Field(
        default=None, description="a rate limit for every user not given one (N/s, N/m, N/h)"
    )
    default_burst: int | None = Field(default=None, ge=1)
    max_inflight_mode: Literal["hard", "soft"] = Field(
        default="hard",
        description="hard: a user at max_inflight waits; soft: it is served over its cap when "
        "nobody else in the worker's scope has ready work",
    )
    fairness: Literal["count", "time"] = Field(
        default="count",
        description="what a user is charged for a task: one turn (count), or the time the "
        "task ran (time); a task's declared cost is charged instead in either mode",
    )
    default_weight: float = Field(default=1.0, gt=0, le=1_000_000)
    aging_seconds: float = Field(default=300.0, gt=0)
    visibility_timeout: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    max_payload_bytes: int = Field(default=DEFAULT_MAX_BYTES, ge=16, le=64 * 1024 * 1024)
    max_payload_depth: int = Field(default=DEFAULT_MAX_DEPTH, ge=1, le=1000)
    retry_base_seconds: float = Field(default=1.0, ge=0)
    retry_factor: float = Field(default=2.0, ge=1)
    retry_max_seconds: float = Field(default=300.0, ge=0)
    result_ttl: float = Field(default=3600.0, gt=0)
    dlq_max: int = Field(default=100_000, ge=1)
    idle_user_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="per-user state (pass, wait samples, per-minute counts) is forgotten this "
        "long after a user has nothing queued and nothing in flight",
    )
    promote_batch: int = Field(default=100, ge=1, le=10_000)
    partitions: int = Field(
        default=1, ge=1, le=1024, description="hash slots {name#k} the queue is split into"
    )
    partition_pick: Literal["fair", "sticky"] = Field(
        default="fair",
        description="how a popper picks the next partition: fair (lowest head pass, read "
        "with every pop) or sticky (64 pops from one partition, then the next)",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_queue_name(value)

    @field_validator("users", "tenants")
    @classmethod
    def _names(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        check = check_user_id if info.field_name == "users" else check_tenant_id
        for name in value:
            check(name)
        return value

    @field_validator("default_rate")
    @classmethod
    def _default_rate(cls, value: str | None) -> str | None:
        return _check_rate(value)

    def default_limit(self) -> tuple[float, int] | None:
        """(tasks per second, burst) for users without a rate of their own, or None."""
        return _limit(self.default_rate, self.default_burst)


class FairQueueConfig(BaseModel):
    """All of fairque's settings. Use :meth:`load` or :meth:`create_default`.

    Building one layers its sources: the arguments given, then ``FAIRQUE_*`` environment
    variables, then the TOML file being loaded (tables merge key by key)."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    redis: RedisConfig = Field(default_factory=RedisConfig)
    queue: QueueConfig = Field(default_factory=QueueConfig)
    workers: list[WorkerConfig] = Field(default_factory=list)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)

    def __init__(self, **data: Any) -> None:
        values = layered(data, env_settings(), toml_settings())
        try:
            super().__init__(**values)
        except pydantic.ValidationError as exc:
            path = toml_path.get()
            raise ConfigError(describe_validation_error(exc, str(path) if path else "")) from None

    @model_validator(mode="after")
    def _workers_fit(self) -> FairQueueConfig:
        seen: set[str] = set()
        lease = self.queue.visibility_timeout
        for worker in self.workers:
            if worker.id in seen:
                raise ValueError(f"workers: duplicate worker id {worker.id!r}")
            seen.add(worker.id)
            # A heartbeat must land well inside the lease, or healthy tasks would expire.
            if worker.heartbeat_interval is not None and worker.heartbeat_interval > lease / 2:
                raise ValueError(
                    f"workers.{worker.id}.heartbeat_interval ({worker.heartbeat_interval} s) must "
                    f"be at most half of queue.visibility_timeout ({lease} s)"
                )
            if worker.partitions is not None:
                bad = [k for k in worker.partitions if not 0 <= k < self.queue.partitions]
                if bad or not worker.partitions:
                    raise ValueError(
                        f"workers.{worker.id}.partitions: {bad or 'empty'}; the queue has "
                        f"partitions 0-{self.queue.partitions - 1}"
                    )
        if self.alerts.starvation_seconds > self.queue.idle_user_seconds:
            # The starvation rule reads who was served in its window from per-user counts,
            # which live only as long as queue.idle_user_seconds.
            raise ValueError(
                f"alerts.starvation_seconds ({self.alerts.starvation_seconds:g}) must be at most "
                f"queue.idle_user_seconds ({self.queue.idle_user_seconds:g})"
            )
        # Blocking waits must stay under the socket timeout, or a read would time out.
        if self.redis.socket_timeout <= max((w.poll_interval for w in self.workers), default=0):
            raise ValueError("redis.socket_timeout must be longer than workers' poll_interval")
        return self

    def heartbeat_interval(self, worker: WorkerConfig) -> float:
        """The worker's heartbeat period (default: a quarter of the lease, at most 10 s)."""
        if worker.heartbeat_interval is not None:
            return worker.heartbeat_interval
        return min(self.queue.visibility_timeout / 4, 10.0)

    def registration_ttl(self, worker_id: str | None) -> float:
        """How long a worker's registration (who it serves) lives without a beat: three
        heartbeats, at least 3 s. A bare popper (no beats) re-registers when it lapses."""
        entry = next((w for w in self.workers if w.id == worker_id), None)
        beat = (
            self.heartbeat_interval(entry)
            if entry is not None
            else min(self.queue.visibility_timeout / 4, 10.0)
        )
        return max(3 * beat, 3.0)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, **overrides: Any) -> FairQueueConfig:
        """Load ``path`` (or ``$FAIRQUE_CONFIG``, or ``./fairque.toml`` if present) and env vars."""
        token = toml_path.set(config_file(path))
        try:
            return cls(**overrides)
        finally:
            toml_path.reset(token)

    @classmethod
    def create_default(
        cls,
        worker_id: str = "worker-1",
        assigned_users: list[str] | None = None,
        steal_targets: list[str] | Literal["*"] | None = None,
        redis_url: str | None = None,
        queue_name: str = "default",
        **queue_settings: Any,
    ) -> FairQueueConfig:
        """A config with one worker, handy for scripts and tests."""
        redis: dict[str, Any] = {"url": redis_url} if redis_url else {}
        return cls(
            redis=redis,
            queue={"name": queue_name, **queue_settings},
            workers=[
                {
                    "id": worker_id,
                    "assigned_users": assigned_users or [],
                    "steal_targets": steal_targets if steal_targets is not None else [],
                }
            ],
        )

    def with_worker(
        self, worker_id: str | None = None, **settings: Any
    ) -> tuple[FairQueueConfig, WorkerConfig]:
        """This config with a worker's entry: ``worker_id``'s (the only one when the config
        has exactly one and none is named), or a new one (``<host>-<pid>`` when unnamed)
        serving everyone; ``settings`` (``concurrency``, ``assigned_users``,
        ``steal_targets``, ``task_timeout``, ...) override the entry's fields.

        Raises:
            ConfigError: no ``worker_id`` while the config has several entries, or a
                setting that is not a worker's (the message names it).
        """
        if worker_id is None:
            if len(self.workers) > 1:
                ids = ", ".join(w.id for w in self.workers)
                raise ConfigError(
                    f"workers: choose a worker id, the config has {len(self.workers)} ({ids})"
                )
            worker_id = self.workers[0].id if self.workers else default_worker_id()
        data = self.model_dump()
        entries = data["workers"]
        entry = next((w for w in entries if w["id"] == worker_id), None)
        if entry is None:
            # A new entry serves everyone, or only the users assigned it if given some.
            entry = {"id": worker_id, "steal_targets": [] if "assigned_users" in settings else "*"}
            entries.append(entry)
        entry.update(settings)
        config = FairQueueConfig(**data)
        return config, config.worker(worker_id)

    def worker(self, worker_id: str) -> WorkerConfig:
        """The ``[[workers]]`` entry with this id."""
        for worker in self.workers:
            if worker.id == worker_id:
                return worker
        known = ", ".join(w.id for w in self.workers) or "none"
        raise ConfigError(f"workers: no worker with id {worker_id!r} (configured: {known})")

    def user_settings(self, user_id: str) -> UserSettings:
        """Weight and cap of ``user_id``; users not in the config get ``default_weight``."""
        found = self.queue.users.get(user_id)
        return found if found is not None else UserSettings(weight=self.queue.default_weight)
