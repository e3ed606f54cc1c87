"""fairque: a fair, multi-tenant task queue for Python on Redis/Valkey."""

from fairque.core.config import (
    FairQueueConfig,
    QueueConfig,
    RedisConfig,
    SchedulerConfig,
    UserSettings,
    WorkerConfig,
)
from fairque.core.exceptions import FairQueueError, TaskIdConflict, TenantMismatch
from fairque.core.models import (
    AckResult,
    DLQEntry,
    Lease,
    Priority,
    PushResult,
    QueueStats,
    Task,
    TaskInfo,
    TaskState,
)
from fairque.queue import AsyncTaskQueue, TaskQueue
from fairque.version import __version__
from fairque.worker import (
    AsyncTaskHandler,
    AsyncWorker,
    TaskHandler,
    TaskTimeout,
    Worker,
    WorkerHealth,
    task,
)

__all__ = [
    "AckResult",
    "AsyncTaskHandler",
    "AsyncTaskQueue",
    "AsyncWorker",
    "DLQEntry",
    "FairQueueConfig",
    "FairQueueError",
    "Lease",
    "Priority",
    "PushResult",
    "QueueConfig",
    "QueueStats",
    "RedisConfig",
    "SchedulerConfig",
    "Task",
    "TaskHandler",
    "TaskIdConflict",
    "TaskInfo",
    "TaskQueue",
    "TaskState",
    "TaskTimeout",
    "TenantMismatch",
    "UserSettings",
    "Worker",
    "WorkerConfig",
    "WorkerHealth",
    "__version__",
    "task",
]
