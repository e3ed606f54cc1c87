"""``AsyncGroup``: tasks pushed together, and the task that runs once every one of them has
ended (a chord's callback). ``group.py`` (``Group``, for ``TaskQueue``) is generated from
this file by ``scripts/unasync.py``.

The callback is an ordinary task pushed with the members as its parents and the ``any_end``
policy: the script that ends the last member releases it, through the fair scheduler like any
task, and it reads their outcomes with ``queue.parents(task.task_id)``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol

from fairque.core.models import CancelResult, GroupProgress, TaskInfo, TaskState
from fairque.queue import waits


class AsyncGroupQueue(Protocol):
    """What a group needs of its queue (an ``AsyncTaskQueue``; named by its methods so that
    the queue module, which makes groups, is not imported back)."""

    async def wait(self, task_id: str, timeout: float | None = None) -> TaskInfo: ...

    async def get_tasks(self, task_ids: Sequence[str]) -> list[TaskInfo | None]: ...

    async def cancel_many(
        self, task_ids: Sequence[str], *, by: str | None = None
    ) -> list[CancelResult]: ...


class AsyncGroup:
    """A group of tasks of an ``AsyncTaskQueue`` by id (from any process: only the ids are
    needed), with its callback's id when it has one."""

    def __init__(
        self, queue: AsyncGroupQueue, task_ids: Sequence[str], callback_id: str | None = None
    ) -> None:
        self.queue = queue
        self.task_ids = list(task_ids)
        self.callback_id = callback_id

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {len(self.task_ids)} tasks>"

    async def wait(self, timeout: float | None = None) -> list[TaskInfo]:
        """Wait until every member has ended and return them as they ended, in order, without
        raising for their outcomes (ResultTimeout when ``timeout`` passes first)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        ended: list[TaskInfo] = []
        for task_id in self.task_ids:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ended.append(await self.queue.wait(task_id, left))
        return ended

    async def result(self, timeout: float | None = None) -> list[Any]:
        """Every member's result, in order, once all have ended. Raises TaskFailed or
        TaskCanceled for the first member (in order) that did not complete, ResultTimeout
        when ``timeout`` passes first."""
        return [waits.outcome(info) for info in await self.wait(timeout)]

    async def progress(self) -> GroupProgress:
        """How many members are in each state now (one read)."""
        infos = await self.queue.get_tasks(self.task_ids)
        counts: dict[str, int] = {}
        for info in infos:
            state = str(info.state) if info is not None else "missing"
            counts[state] = counts.get(state, 0) + 1
        return GroupProgress(
            total=len(self.task_ids),
            completed=counts.get(TaskState.COMPLETED, 0),
            dead=counts.get(TaskState.DEAD, 0),
            canceled=counts.get(TaskState.CANCELED, 0),
            states=counts,
        )

    async def cancel(self, *, by: str | None = None) -> list[CancelResult]:
        """Cancel every member and the callback (see ``AsyncTaskQueue.cancel``)."""
        ids = [*self.task_ids, *([self.callback_id] if self.callback_id else [])]
        return await self.queue.cancel_many(ids, by=by)
