"""Workers and handlers."""

from fairque.worker.async_worker import AsyncWorker
from fairque.worker.handlers import AsyncTaskHandler, HandlerRegistry, TaskHandler, registry
from fairque.worker.runs import TaskTimeout, WorkerHealth, WorkerStatus
from fairque.worker.task_refs import TaskRef, task
from fairque.worker.worker import Worker

__all__ = [
    "AsyncTaskHandler",
    "AsyncWorker",
    "HandlerRegistry",
    "TaskHandler",
    "TaskRef",
    "TaskTimeout",
    "Worker",
    "WorkerHealth",
    "WorkerStatus",
    "registry",
    "task",
]
