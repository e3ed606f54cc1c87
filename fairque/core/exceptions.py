"""Every error fairque raises on purpose derives from :class:`FairQueueError`.

Each bad-input error subclasses :class:`ValueError` as well, so code that already catches
``ValueError`` around queue calls keeps working.
"""

from __future__ import annotations


class FairQueueError(Exception):
    """Base class of every fairque exception."""


class ValidationError(FairQueueError, ValueError):
    """Input was rejected before anything was sent to the server."""


class InvalidQueueName(ValidationError):
    """A queue name is empty, too long, reserved or has forbidden characters."""


class InvalidUserId(ValidationError):
    """A user id is missing, empty, too long or has forbidden characters."""


class InvalidTaskId(ValidationError):
    """A task id is malformed."""


class InvalidTenantId(ValidationError):
    """A tenant id is empty, too long or has forbidden characters (the user-id alphabet)."""


class InvalidCost(ValidationError):
    """A task's cost is not a finite number greater than 0 (at most 1e9)."""


class InvalidRate(ValidationError):
    """A rate limit is not ``N/s``, ``N/m`` or ``N/h`` within 1/h .. 1,000,000/s, or its burst
    is not a whole number >= 1."""


class InvalidPriority(ValidationError):
    """A priority is not an integer from 1 (VERY_LOW) to 6 (CRITICAL)."""


class InvalidPayload(ValidationError):
    """A payload is not JSON, is too large or is nested too deeply."""


class InvalidSchedule(ValidationError):
    """A delay, due time or attempt count cannot work."""


class InvalidCronExpression(ValidationError):
    """A cron expression does not parse, has out-of-range fields, or can never fire."""


class InvalidTimezone(ValidationError):
    """A time zone name is not in the IANA database."""


class ScheduleNotFound(FairQueueError, KeyError):
    """No schedule has that name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "schedule not found"


class ConfigError(FairQueueError, ValueError):
    """The configuration (file, env vars or arguments) is invalid; the message names the field."""


class TaskIdConflict(FairQueueError):
    """A task with this id already exists with a different user or payload."""

    def __init__(self, task_id: str) -> None:
        super().__init__(
            f"task id {task_id!r} already exists with a different user or payload; "
            "push is idempotent only for identical tasks"
        )
        self.task_id = task_id


class TenantMismatch(FairQueueError):
    """A task names a tenant other than the one its user belongs to while that user still has
    work queued or in flight (a user belongs to one tenant at a time). Nothing was written."""

    def __init__(self, task_id: str, user_id: str, tenant: str) -> None:
        super().__init__(
            f"task {task_id!r}: user {user_id!r} belongs to tenant {tenant!r} while it has work "
            "queued or in flight; push it with that tenant, or after its work is done"
        )
        self.task_id, self.user_id, self.tenant = task_id, user_id, tenant


class InvalidDependency(ValidationError):
    """A task's parents (``after``), unique key or debounce are malformed: the message names
    the problem. Nothing was written."""


class DependencyCycle(InvalidDependency):
    """A task names a parent that waits, through other tasks, on the task itself: neither
    could ever run. Nothing was written."""

    def __init__(self, task_id: str, parent: str) -> None:
        super().__init__(
            f"task {task_id!r} cannot wait on {parent!r}: {parent!r} already waits on "
            f"{task_id!r} (through its parents), so neither would ever run"
        )
        self.task_id, self.parent = task_id, parent


class MissingExtra(FairQueueError):
    """A part of fairque that an extra installs is not installed: the message names it
    (``pip install 'fairque[tui]'``). Commands exit 2 with that one line."""

    exit_code = 2

    def __init__(self, extra: str, what: str) -> None:
        super().__init__(f"{what} needs the '{extra}' extra: pip install 'fairque[{extra}]'")
        self.extra = extra


class ServerError(FairQueueError):
    """The server rejected an operation (script error, out of memory, wrong key type)."""


class CorruptQueue(ServerError):
    """A queue key holds the wrong type of value (something else wrote over it).

    Nothing was written; the user concerned is quarantined until an operator repairs the key
    and resumes the user."""


class ServerOutOfMemory(ServerError):
    """The server reached maxmemory (noeviction): writes are refused until memory frees."""


class ConnectionProblem(FairQueueError):
    """The server cannot be reached, refused the credentials, or broke the connection."""


class ServerUnreachable(ConnectionProblem):
    """The server did not answer (down, restarting, or the network): worth trying again,
    unlike refused credentials or a failed TLS handshake."""


class UnsupportedServer(FairQueueError):
    """The server is too old, or configured in a way that loses tasks (eviction)."""


class DurabilityNotConfirmed(FairQueueError):
    """A push was applied but not confirmed on disk / on replicas in time. Pushing the same
    task again is safe (push is idempotent by task id)."""


class EmbeddedServerError(FairQueueError):
    """The embedded Valkey could not be found or started."""


class PortInUse(EmbeddedServerError):
    """The embedded Valkey could not listen on its port: something else listens there."""


# -- what a producer waiting on a task learns ---------------------------------------------------


class TaskNotFound(FairQueueError, LookupError):
    """No task has that id (never pushed, or its result's time to live ran out)."""


class TaskFailed(FairQueueError):
    """The task is dead: it failed its last attempt (it is in the dead-letter queue).

    Attributes: ``task_id``, ``error`` (its message), ``error_type``, ``traceback`` (the tail
    kept with the task) and ``attempts``."""

    def __init__(
        self, task_id: str, error: str, error_type: str, traceback: str, attempts: int
    ) -> None:
        kind = f"{error_type}: " if error_type else ""
        super().__init__(f"task {task_id} failed after {attempts} attempt(s): {kind}{error}")
        self.task_id = task_id
        self.error = error
        self.error_type = error_type
        self.traceback = traceback
        self.attempts = attempts


class TaskCanceled(FairQueueError):
    """The task was canceled (before it ran, or while it ran). ``canceled_by`` names who."""

    def __init__(self, task_id: str, canceled_by: str = "") -> None:
        by = f" by {canceled_by}" if canceled_by else ""
        super().__init__(f"task {task_id} was canceled{by}")
        self.task_id = task_id
        self.canceled_by = canceled_by


class ResultTimeout(FairQueueError, TimeoutError):
    """The task did not end within the time given to wait for it (it may still run)."""
