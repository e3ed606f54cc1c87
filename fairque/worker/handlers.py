"""Handlers: what runs a task. A task names its handler by a registered name; nothing is
ever imported by a name found in the server.

Three ways to write one:

- ``@task("resize")`` on a function (sync or ``async``) called with the :class:`Task`, or
  with a pydantic model of its payload (:mod:`fairque.worker.task_refs`);
- a :class:`TaskHandler` subclass (``process_task`` plus optional hooks);
- an :class:`AsyncTaskHandler` subclass, the same with coroutines.
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from fairque.core.exceptions import FairQueueError
from fairque.core.models import Task
from fairque.core.validation import check_handler_name


class TaskHandler:
    """Base class of synchronous handlers: override :meth:`process_task`."""

    def process_task(self, task: Task) -> Any:
        """Do the work; the return value (JSON) is stored as the task's result."""
        raise NotImplementedError

    def on_success(self, task: Task, result: Any) -> None:
        """Called after the task was acknowledged as completed."""

    def on_failure(self, task: Task, error: BaseException) -> None:
        """Called when ``process_task`` raised (the attempt is retried or buried)."""

    def on_timeout(self, task: Task) -> None:
        """Called when the task ran past the worker's ``task_timeout``."""


class AsyncTaskHandler:
    """Base class of asyncio handlers: override :meth:`process_task` (a coroutine)."""

    async def process_task(self, task: Task) -> Any:
        raise NotImplementedError

    async def on_success(self, task: Task, result: Any) -> None:
        """Called after the task was acknowledged as completed."""

    async def on_failure(self, task: Task, error: BaseException) -> None:
        """Called when ``process_task`` raised (the attempt is retried or buried)."""

    async def on_timeout(self, task: Task) -> None:
        """Called when the task ran past the worker's ``task_timeout``."""


@dataclass(frozen=True, slots=True)
class BatchSpec:
    """How a batch handler's tasks are gathered (:mod:`fairque.worker.batches`)."""

    size: int
    wait: float  # seconds its first task waits for the batch to fill
    by: Literal["user", "handler"] = "user"  # one user's tasks per batch, or any user's

    def __post_init__(self) -> None:
        if (
            isinstance(self.size, bool)
            or not isinstance(self.size, int)
            or not 1 <= self.size <= 10_000
        ):
            raise FairQueueError(
                f"batch_size must be an integer from 1 to 10,000, got {self.size!r}"
            )
        if (
            isinstance(self.wait, bool)
            or not isinstance(self.wait, int | float)
            or not 0 <= self.wait <= 3600
        ):
            raise FairQueueError(f"batch_wait must be seconds from 0 to 3600, got {self.wait!r}")
        if self.by not in ("user", "handler"):
            raise FairQueueError(f"batch_by must be 'user' or 'handler', got {self.by!r}")


@dataclass(frozen=True, slots=True)
class BoundHandler:
    """A handler in the one shape the workers run: each callable may be sync or async. A
    batch handler (``batch`` set) is called with a list of tasks."""

    name: str
    process: Callable[[Any], Any]  # called with the Task (a batch handler: a list of tasks)
    on_success: Callable[[Task, Any], Any] | None = None
    on_failure: Callable[[Task, BaseException], Any] | None = None
    on_timeout: Callable[[Task], Any] | None = None
    batch: BatchSpec | None = None

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.process)


def as_handler(obj: Any, name: str | None = None) -> BoundHandler:
    """Bind a ``@task`` function, a handler class (instantiated) or a handler instance."""
    if isinstance(obj, BoundHandler):
        return obj
    if isinstance(obj, type) and issubclass(obj, TaskHandler | AsyncTaskHandler):
        obj = obj()
    if isinstance(obj, TaskHandler | AsyncTaskHandler):
        return BoundHandler(
            name or type(obj).__name__,
            obj.process_task,
            obj.on_success,
            obj.on_failure,
            obj.on_timeout,
        )
    bound = getattr(obj, "__fairque_bound__", None)  # a @task handle (task_refs.TaskRef)
    if isinstance(bound, BoundHandler):
        return bound if name in (None, bound.name) else dataclasses.replace(bound, name=name)
    if callable(obj):
        registered: str | None = getattr(obj, "__fairque_task__", None)
        label = name or registered or str(getattr(obj, "__name__", "handler"))
        return BoundHandler(label, obj)
    raise TypeError(
        f"a handler must be a @task function, a TaskHandler/AsyncTaskHandler subclass or "
        f"instance; got {type(obj).__name__}"
    )


class HandlerRegistry:
    """Names -> handlers. The process-wide one is filled by ``@task``."""

    def __init__(self) -> None:
        self._handlers: dict[str, BoundHandler] = {}
        self._sources: dict[str, object] = {}
        self._lock = threading.Lock()

    def register(self, name: str, obj: Any) -> BoundHandler:
        check_handler_name(name)
        bound = as_handler(obj, name)
        with self._lock:
            if name in self._sources and self._sources[name] is not obj:
                raise FairQueueError(f"handler name {name!r} is already registered")
            self._handlers[name] = bound
            self._sources[name] = obj
        return bound

    def get(self, name: str) -> BoundHandler | None:
        return self._handlers.get(name)

    def names(self) -> list[str]:
        return sorted(self._handlers)


registry = HandlerRegistry()
