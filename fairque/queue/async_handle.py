"""``AsyncTaskHandle``: a pushed task by id, in a producer's hands: wait for its result,
cancel it, read it. ``handle.py`` (``TaskHandle``, for ``TaskQueue``) is generated from this
file by ``scripts/unasync.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from fairque.core.models import CancelResult, TaskInfo
from fairque.queue.async_fairqueue import AsyncTaskQueue

R = TypeVar("R")


def _as_is(value: Any) -> Any:
    return value


class AsyncTaskHandle(Generic[R]):
    """A task of an ``AsyncTaskQueue``, by id (from any process: only the id is needed).

    Args:
        queue: the queue the task is in.
        task_id: its id.
        created: whether the push that made this handle created the task (False: a task with
            that id existed already; None: the handle was made from an id).
        decode: turns the stored JSON result into ``R`` (a typed task's result model).
    """

    def __init__(
        self,
        queue: AsyncTaskQueue,
        task_id: str,
        *,
        created: bool | None = None,
        decode: Callable[[Any], R] | None = None,
    ) -> None:
        self.queue = queue
        self.task_id = task_id
        self.created = created
        self._decode: Callable[[Any], R] = decode or _as_is

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.task_id}>"

    async def result(self, timeout: float | None = None) -> R:
        """Wait for the task's result (see ``AsyncTaskQueue.result``: TaskFailed,
        TaskCanceled, ResultTimeout, TaskNotFound)."""
        return self._decode(await self.queue.result(self.task_id, timeout))

    async def cancel(self, *, by: str | None = None) -> CancelResult:
        """Cancel the task, whatever its state (see ``AsyncTaskQueue.cancel``)."""
        return await self.queue.cancel(self.task_id, by=by)

    async def info(self) -> TaskInfo | None:
        """The task's state, attempts, progress, result or error (None once expired)."""
        return await self.queue.get_task(self.task_id)
