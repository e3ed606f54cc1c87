"""Workers and handlers."""

from fairque.worker.async_worker import AsyncWorker
from fairque.worker.handlers import AsyncTaskHandler, HandlerRegistry, TaskHandler, registry, task
from fairque.worker.runs import TaskTimeout, WorkerHealth, WorkerStatus
from fairque.worker.worker import Worker

__all__ = [
    "AsyncTaskHandler",
    "AsyncWorker",
    "HandlerRegistry",
    "TaskHandler",
    "TaskTimeout",
    "Worker",
    "WorkerHealth",
    "WorkerStatus",
    "registry",
    "task",
]
