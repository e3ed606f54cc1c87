"""fairque: a fair, multi-tenant task queue for Python on Redis/Valkey.

The public names load on first use (PEP 562), so ``import fairque`` and the command line's
``--help`` do not pay for pydantic, redis-py and the queue before they need them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from fairque.version import __version__

if TYPE_CHECKING:
    from fairque.core.config import (
        FairQueueConfig,
        QueueConfig,
        RedisConfig,
        SchedulerConfig,
        UserSettings,
        WorkerConfig,
    )
    from fairque.core.exceptions import (
        DependencyCycle,
        FairQueueError,
        InvalidDependency,
        ResultTimeout,
        TaskCanceled,
        TaskFailed,
        TaskIdConflict,
        TaskNotFound,
        TenantMismatch,
    )
    from fairque.core.models import (
        AckResult,
        CancelOutcome,
        CancelResult,
        Debounce,
        DLQEntry,
        GroupProgress,
        Lease,
        Priority,
        PushResult,
        QueueStats,
        Task,
        TaskEvent,
        TaskInfo,
        TaskState,
    )
    from fairque.queue import AsyncTaskQueue, TaskQueue
    from fairque.queue.async_group import AsyncGroup
    from fairque.queue.async_handle import AsyncTaskHandle
    from fairque.queue.group import Group
    from fairque.queue.handle import TaskHandle
    from fairque.worker import (
        AsyncTaskHandler,
        AsyncWorker,
        TaskHandler,
        TaskRef,
        TaskTimeout,
        Worker,
        WorkerHealth,
        task,
    )
    from fairque.worker.context import (
        TaskCanceledError,
        TaskContext,
        cancel_requested,
        current,
        progress,
    )

# name -> the module that defines it
_WHERE = {
    **dict.fromkeys(
        ["FairQueueConfig", "QueueConfig", "RedisConfig", "SchedulerConfig", "UserSettings",
         "WorkerConfig"], "fairque.core.config"),
    **dict.fromkeys(["DependencyCycle", "FairQueueError", "InvalidDependency", "ResultTimeout",
                     "TaskCanceled", "TaskFailed", "TaskIdConflict", "TaskNotFound",
                     "TenantMismatch"],
                    "fairque.core.exceptions"),
    **dict.fromkeys(
        ["AckResult", "CancelOutcome", "CancelResult", "Debounce", "DLQEntry", "GroupProgress",
         "Lease", "Priority",
         "PushResult", "QueueStats", "Task", "TaskEvent", "TaskInfo", "TaskState"],
        "fairque.core.models"),
    **dict.fromkeys(["AsyncTaskQueue", "TaskQueue"], "fairque.queue"),
    "AsyncTaskHandle": "fairque.queue.async_handle",
    "TaskHandle": "fairque.queue.handle",
    "AsyncGroup": "fairque.queue.async_group",
    "Group": "fairque.queue.group",
    **dict.fromkeys(
        ["AsyncTaskHandler", "AsyncWorker", "TaskHandler", "TaskRef", "TaskTimeout", "Worker",
         "WorkerHealth", "task"], "fairque.worker"),
    **dict.fromkeys(
        ["TaskCanceledError", "TaskContext", "cancel_requested", "current", "progress"],
        "fairque.worker.context"),
}  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'fairque' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__all__ = [
    "AckResult",
    "AsyncGroup",
    "AsyncTaskHandle",
    "AsyncTaskHandler",
    "AsyncTaskQueue",
    "AsyncWorker",
    "CancelOutcome",
    "CancelResult",
    "DLQEntry",
    "Debounce",
    "DependencyCycle",
    "FairQueueConfig",
    "FairQueueError",
    "Group",
    "GroupProgress",
    "InvalidDependency",
    "Lease",
    "Priority",
    "PushResult",
    "QueueConfig",
    "QueueStats",
    "RedisConfig",
    "ResultTimeout",
    "SchedulerConfig",
    "Task",
    "TaskCanceled",
    "TaskCanceledError",
    "TaskContext",
    "TaskEvent",
    "TaskFailed",
    "TaskHandle",
    "TaskHandler",
    "TaskIdConflict",
    "TaskInfo",
    "TaskNotFound",
    "TaskQueue",
    "TaskRef",
    "TaskState",
    "TaskTimeout",
    "TenantMismatch",
    "UserSettings",
    "Worker",
    "WorkerConfig",
    "WorkerHealth",
    "__version__",
    "cancel_requested",
    "current",
    "progress",
    "task",
]
