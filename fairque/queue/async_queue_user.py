"""``AsyncQueueUser``: what a class built on one queue connection shares (the Inspector, the
Admin, the scheduler): its settings, the queue it reads and writes through (its own, or one
passed in and closed by the caller), ``open``/``close`` and the context manager.

``async_queue_user.py`` is written by hand; ``queue_user.py`` is generated from it by
``scripts/unasync.py``.
"""

from __future__ import annotations

from typing import Self

from fairque.core.config import FairQueueConfig
from fairque.queue.async_fairqueue import AsyncTaskQueue


class AsyncQueueUser:
    """Settings and a queue connection. ``config`` defaults to ``FairQueueConfig.load()``;
    without ``queue`` one is made from it (and closed by :meth:`close`)."""

    def __init__(
        self, config: FairQueueConfig | None = None, *, queue: AsyncTaskQueue | None = None
    ) -> None:
        self.config = config if config is not None else FairQueueConfig.load()
        self.queue = queue if queue is not None else AsyncTaskQueue(self.config)
        self._own_queue = queue is None

    async def open(self) -> Self:
        """Check the connection and the server; returns self.

        Raises:
            ServerUnreachable: no server answers.
        """
        await self.queue.open()
        return self

    async def close(self) -> None:
        """Close the queue connection if this object made it."""
        if self._own_queue:
            await self.queue.close()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
