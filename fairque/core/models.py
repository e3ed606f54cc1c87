"""The data fairque moves around: priorities, tasks, leases, results of operations."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from fairque.core.codec import encode_json
from fairque.core.exceptions import InvalidDependency, InvalidSchedule
from fairque.core.validation import (
    check_after,
    check_cost,
    check_debounce,
    check_delay,
    check_handler_name,
    check_max_attempts,
    check_priority,
    check_task_id,
    check_tenant_id,
    check_unique_key,
    check_user_id,
)

AfterPolicy = Literal["all_complete", "any_end"]


class Priority(IntEnum):
    """Priority inside one user's queue. CRITICAL is a separate FIFO served first."""

    VERY_LOW = 1
    LOW = 2
    NORMAL = 3
    HIGH = 4
    VERY_HIGH = 5
    CRITICAL = 6


class TaskState(StrEnum):
    """Where a task is in its lifecycle (docs/reliability.md)."""

    BLOCKED = "blocked"  # waits for its parents (``after``) to end
    DELAYED = "delayed"
    READY = "ready"
    LEASED = "leased"
    COMPLETED = "completed"
    DEAD = "dead"
    CANCELED = "canceled"


def _now() -> datetime:
    return datetime.now(UTC)


M = TypeVar("M", bound=BaseModel)


def trusted(cls: type[M], fields: dict[str, Any], private: dict[str, Any] | None = None) -> M:
    """An instance of ``cls`` from a complete set of fields already checked (a popped task:
    the server validated it at push). What ``model_construct`` does, without its per-field
    defaults pass: a worker builds two models per task, and that pass was a fifth of its
    CPU per task. ``fields`` must name every field of ``cls``."""
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", fields)
    object.__setattr__(obj, "__pydantic_fields_set__", set(fields))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", private)
    return obj


class Debounce(NamedTuple):
    """Run the last task pushed under ``key`` (per user) ``window`` seconds after the latest
    push, and at most ``max_wait`` seconds after the window's first push."""

    key: str
    window: float
    max_wait: float


class Lease(BaseModel):
    """Proof that a worker holds a task: complete/fail must present the same token."""

    model_config = ConfigDict(frozen=True)

    token: str
    worker_id: str
    deadline: datetime
    attempt: int
    stolen: bool = False  # picked from a steal target, not an assigned user
    waited_ms: int | None = None  # ready -> leased: since pushed, due, or requeued

    @property
    def sequence(self) -> int:
        """The server-side dispatch number: leases sort by it in global dispatch order."""
        return int(self.token.split(".", 1)[0])


# The fields Task.create names (model_construct would record them as set).
_CREATED_FIELDS = frozenset({
    "task_id", "user_id", "priority", "payload", "handler", "max_attempts", "execute_after",
    "delay", "tenant", "cost", "after", "after_policy", "unique_key", "debounce",
})  # fmt: skip


class Task(BaseModel):
    """One unit of work for one user. Create it with :meth:`Task.create`."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    user_id: str
    priority: Priority = Priority.NORMAL
    payload: Any = None
    handler: str | None = None
    max_attempts: int | None = None
    execute_after: datetime | None = None
    delay: float | None = Field(default=None, description="seconds after the push (server time)")
    state: TaskState = TaskState.READY
    attempts: int = 0
    created_at: datetime | None = None
    lease: Lease | None = None
    trace: dict[str, str] | None = Field(
        default=None, description="trace context recorded at push (OpenTelemetry, W3C)"
    )
    tenant: str | None = Field(
        default=None, description="the tenant the user belongs to (fair between tenants first)"
    )
    cost: float | None = Field(
        default=None, description="what the task is charged instead of one turn or its run time"
    )
    after: tuple[str, ...] = Field(
        default=(), description="ids of the tasks it waits for (docs/dependencies.md)"
    )
    after_policy: AfterPolicy = Field(
        default="all_complete",
        description="all_complete: runs once every parent completed, canceled if one dies or "
        "is canceled; any_end: runs once every parent ended, whatever the outcome",
    )
    unique_key: str | None = Field(
        default=None, description="one queued or running task per key and user"
    )
    debounce: Debounce | None = Field(
        default=None, description="runs the last payload pushed under a key within a window"
    )

    _payload_json: str | None = PrivateAttr(default=None)
    _run_seconds: float | None = PrivateAttr(default=None)
    # The task id and user id objects create() checked: push checks them again only when
    # they are not these very objects (a model_copy that changed them, an unpickled task).
    _checked: tuple[str, str] | None = PrivateAttr(default=None)

    @classmethod
    def create(
        cls,
        user_id: str,
        priority: Priority | int = Priority.NORMAL,
        payload: Any = None,
        task_id: str | None = None,
        execute_after: datetime | None = None,
        handler: str | None = None,
        max_attempts: int | None = None,
        *,
        delay: float | None = None,
        tenant: str | None = None,
        cost: float | None = None,
        after: Sequence[Any] | Any = None,
        after_policy: AfterPolicy = "all_complete",
        unique_key: str | None = None,
        debounce: Debounce | tuple[str, float, float] | None = None,
    ) -> Task:
        """Validate the arguments and build a task.

        Raises a :class:`~fairque.FairQueueError` subclass naming the problem for a bad user id,
        task id, priority, payload (not JSON, NaN, nested deeper than 32), delay, attempts,
        tenant or cost. ``delay`` (seconds) is measured from the push on the server's clock;
        ``execute_after`` is an absolute time. ``tenant`` puts the user under a tenant (fair
        between tenants first, then between a tenant's users); ``cost`` is charged to the user
        instead of one turn (``fairness = "count"``) or the measured run time (``"time"``).

        ``after`` names tasks (ids, or one id) that must end before this one runs: it waits
        in state ``blocked`` and enters its user's queue when the last one completes; with
        ``after_policy="all_complete"`` (the default) a parent that dies or is canceled
        cancels it, with ``"any_end"`` it runs whatever its parents' outcomes. ``unique_key``
        keeps one queued or running task per key and user (a second push answers the first
        task's id, ``created=False``); ``debounce=(key, window, max_wait)`` runs the last
        payload pushed under a key once no push came for ``window`` seconds, and at most
        ``max_wait`` seconds after the first (docs/dependencies.md).
        """
        check_user_id(user_id)
        if tenant is not None:
            check_tenant_id(tenant)
        if cost is not None:
            cost = check_cost(cost)
        pri = Priority(check_priority(priority))
        # A new id: 128 random bits as 32 hex digits, as uuid4().hex without its version
        # bits, at a quarter of its cost (2 µs of a push).
        tid = check_task_id(task_id) if task_id is not None else os.urandom(16).hex()
        if handler is not None:
            check_handler_name(handler)
        if max_attempts is not None:
            check_max_attempts(max_attempts)
        if delay is not None:
            check_delay(delay)
        parents = check_after(after, tid, after_policy)
        if unique_key is not None:
            check_unique_key(unique_key)
        deb = None if debounce is None else Debounce(*check_debounce(debounce))
        if deb is not None and (parents or unique_key is not None):
            raise InvalidDependency("a debounced task takes neither parents nor a unique key")
        if execute_after is not None:
            if not isinstance(execute_after, datetime):
                raise InvalidSchedule("execute_after must be a datetime")
            ahead = execute_after.timestamp() - _now().timestamp()
            if ahead > 0:
                check_delay(ahead, "execute_after")
        # A typed error now rather than at push time; the size limit is the queue's, checked
        # by push (and again by the Lua script, for producers in other languages).
        text = encode_json(payload, max_bytes=1 << 62)
        # Every field was checked above: build without validating it all again, and without
        # model_construct's per-field defaults pass (together they tripled a push's client
        # CPU). Fields set: the ones create() names, as model_construct would record.
        fields = {
            "task_id": tid, "user_id": user_id, "priority": pri, "payload": payload,
            "handler": handler, "max_attempts": max_attempts, "execute_after": execute_after,
            "delay": delay, "state": TaskState.READY, "attempts": 0, "created_at": None,
            "lease": None, "trace": None, "tenant": tenant, "cost": cost, "after": parents,
            "after_policy": after_policy, "unique_key": unique_key, "debounce": deb,
        }  # fmt: skip
        private = {"_payload_json": text, "_run_seconds": None, "_checked": (tid, user_id)}
        task = trusted(cls, fields, private)
        object.__setattr__(task, "__pydantic_fields_set__", set(_CREATED_FIELDS))
        return task

    def keep_json(self, text: str) -> Task:
        """Remember the JSON ``payload`` was decoded from (a popped task: never re-encoded)."""
        self._payload_json = text
        return self

    @property
    def payload_json(self) -> str:
        """The payload as compact JSON (computed once)."""
        # The private dict read directly: pydantic's attribute lookup for private fields
        # costs a few µs, on every push.
        private = self.__pydantic_private__
        text: str | None = private.get("_payload_json") if private is not None else None
        if text is None:
            text = encode_json(self.payload, max_bytes=1 << 62)
            self._payload_json = text
        return text

    def checked_ids(self) -> bool:
        """Whether the task id and user id are the very values :meth:`create` checked."""
        private = self.__pydantic_private__
        done = private.get("_checked") if private is not None else None
        return done is not None and done[0] is self.task_id and done[1] is self.user_id

    @property
    def run_seconds(self) -> float | None:
        """How long the handler ran, as the worker measured it (None until it is noted); the
        acknowledgement reports it, for fairness by run time."""
        return self._run_seconds

    def note_run(self, seconds: float) -> None:
        """Record how long the handler ran (a worker calls this before acknowledging)."""
        self._run_seconds = max(float(seconds), 0.0)

    @property
    def is_leased(self) -> bool:
        return self.lease is not None


class PushResult(BaseModel):
    """What a push did: ``created`` is False when an identical task already existed."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    created: bool
    state: TaskState


class AckResult(StrEnum):
    """Outcome of complete/fail for one task."""

    OK = "ok"
    RETRY = "retry"  # fail: scheduled for another attempt
    DEAD = "dead"  # fail: attempts exhausted, now in the DLQ
    STALE = "stale"  # the lease was lost (expired and reassigned); nothing changed
    CANCELED = "canceled"  # its cancel was asked for while it ran: it ended canceled
    MISSING = "missing"  # no such task


class CancelOutcome(StrEnum):
    """What asking to cancel a task did."""

    CANCELED = "canceled"  # it was ready or delayed: canceled now, it will never run
    REQUESTED = "requested"  # it runs: its worker is told, and it ends canceled
    ENDED = "ended"  # it had completed, died or been canceled (or its cancel was asked for)
    NOT_FOUND = "not_found"  # no task has that id


class CancelResult(BaseModel):
    """The answer to :meth:`TaskQueue.cancel`: what it did, and the state the task was in."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    outcome: CancelOutcome
    state: str | None = None  # the task's state when asked ('canceling': asked before)

    @property
    def changed(self) -> bool:
        """Whether this call canceled the task or asked its worker to."""
        return self.outcome in (CancelOutcome.CANCELED, CancelOutcome.REQUESTED)


class TaskInfo(BaseModel):
    """Everything known about one task: where it is, its attempts, its result or error."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    user_id: str | None
    priority: int | None
    state: TaskState | str
    attempts: int
    max_attempts: int | None
    handler: str | None
    payload: Any
    result: Any = None
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = None
    worker_id: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    due_at: datetime | None = None
    lease_deadline: datetime | None = None
    progress: float | None = Field(default=None, description="fraction done, as last reported")
    progress_note: Any = Field(default=None, description="what came with the last report")
    progress_at: datetime | None = None
    canceled_by: str | None = Field(default=None, description="who canceled it (or asked to)")
    canceled_at: datetime | None = None
    parents: tuple[str, ...] = Field(default=(), description="the tasks it waits for (after)")
    after_policy: str | None = Field(default=None, description="all_complete or any_end")
    waiting_for: int | None = Field(
        default=None, description="parents not yet ended (while it is blocked)"
    )
    dependents: tuple[str, ...] = Field(
        default=(), description="the tasks that wait for it (get_task reads the first 1,000)"
    )
    unique_key: str | None = None

    @property
    def ended(self) -> bool:
        """Whether the task has ended: completed, dead or canceled."""
        return self.state in _ENDED

    @property
    def cancel_requested(self) -> bool:
        """A cancel was asked for (it may still be running until its worker stops it)."""
        return self.canceled_by is not None


_ENDED = frozenset({TaskState.COMPLETED, TaskState.DEAD, TaskState.CANCELED})


class GroupProgress(BaseModel):
    """How far a group is: its members counted by state."""

    model_config = ConfigDict(frozen=True)

    total: int
    completed: int
    dead: int
    canceled: int
    states: dict[str, int] = Field(description="state -> members in it ('missing': unknown)")

    @property
    def ended(self) -> int:
        """Members that have ended, whatever the outcome."""
        return self.completed + self.dead + self.canceled

    @property
    def done(self) -> bool:
        return self.ended == self.total


class TaskEvent(BaseModel):
    """What :meth:`TaskQueue.watch` yields: a progress report while the task runs, then the
    task as it ended (``info`` set, ``final`` True)."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    kind: str  # 'progress', 'retry', 'canceling', or 'ended'
    progress: float | None = None
    note: Any = None
    error: str | None = None
    info: TaskInfo | None = None

    @property
    def final(self) -> bool:
        return self.kind == "ended"


class DLQEntry(BaseModel):
    """A task that exhausted its attempts, with the last error."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    user_id: str
    priority: Priority
    payload: Any
    handler: str | None
    attempts: int
    error: str
    error_type: str | None = None
    traceback: str | None = None
    worker_id: str | None = None
    failed_at: datetime | None = None


class UserBacklog(BaseModel):
    """Ready work of one user, by priority."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    ready: int
    by_priority: dict[int, int]
    inflight: int
    blocked: int = Field(default=0, description="tasks waiting for their parents")


class QueueStats(BaseModel):
    """A typed snapshot of one queue's counters (kept by the Lua scripts, no scans)."""

    model_config = ConfigDict(frozen=True)

    queue: str
    ready: int
    delayed: int
    inflight: int
    dead: int
    active_users: int
    counters: dict[str, int]
    users: list[UserBacklog]
    blocked: int = Field(default=0, description="tasks waiting for their parents")
