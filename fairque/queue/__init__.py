"""The queue: sans-IO operations and their sync and async transports."""

from fairque.queue.async_fairqueue import AsyncTaskQueue
from fairque.queue.fairqueue import TaskQueue

__all__ = ["AsyncTaskQueue", "TaskQueue"]
