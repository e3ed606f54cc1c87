"""fairque: a fair, multi-tenant task queue for Python on Redis/Valkey."""

from fairque.core.config import (
    FairQueueConfig,
    QueueConfig,
    RedisConfig,
    SchedulerConfig,
    UserSettings,
    WorkerConfig,
)
from fairque.core.exceptions import FairQueueError, TaskIdConflict
from fairque.core.models import (
    AckResult,
    DLQEntry,
    Lease,
    Priority,
    PushResult,
    QueueStats,
    Task,
    TaskState,
)
from fairque.queue import AsyncTaskQueue, TaskQueue

__version__ = "0.1.0"

__all__ = [
    "AckResult",
    "AsyncTaskQueue",
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
    "TaskIdConflict",
    "TaskQueue",
    "TaskState",
    "UserSettings",
    "WorkerConfig",
]
