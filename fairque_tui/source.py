"""Where the TUI's data comes from. The screens know only :class:`DataSource`.

:class:`LiveSource` reads through the Inspector and changes through the Admin of one queue;
the tests' snapshots use fixed data behind the same interface. Every method is a coroutine
run on the app's event loop (no threads, no locks) and may raise
:class:`~fairque.FairQueueError` (a lost connection).
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from typing import Any, Protocol

from fairque.core.config import FairQueueConfig
from fairque.core.models import DLQEntry, TaskInfo
from fairque.monitoring import AsyncAdmin, AsyncInspector
from fairque.monitoring.merge import user_order
from fairque.monitoring.models import (
    AdminResult,
    Alert,
    DLQGroups,
    Explanation,
    Overview,
    RunningTask,
    TailPage,
    TenantDetail,
    TenantRow,
    UserDetail,
    UserPage,
    WorkerInfo,
)
from fairque.queue import AsyncTaskQueue
from fairque.scheduler import ScheduleInfo
from fairque.util import mask_url

USERS_SHOWN = 200  # the overview's table: the top users by the chosen sort
TAIL_READ = 2000  # stream entries one read of the event tail takes (per partition)


@dataclass(frozen=True)
class OverviewData:
    """One fetch of the overview screen."""

    overview: Overview
    users: UserPage
    workers: list[WorkerInfo]
    alerts: list[Alert]


def sort_rows(page: UserPage, sort: str) -> UserPage:
    """The rows in the order the table shows: backlog (largest first), wait (p95, longest
    first) or name."""
    return page.model_copy(update={"rows": sorted(page.rows, key=user_order(sort))})


class DataSource(Protocol):
    """What the screens read and change."""

    label: str  # the server, as the header shows it (password masked)
    queue: str
    read_only: bool

    async def overview(self, sort: str) -> OverviewData: ...
    async def user(self, user_id: str, offset: int, limit: int) -> UserDetail: ...
    async def tenants(self) -> list[TenantRow]: ...
    async def tenant(self, tenant: str) -> TenantDetail | None: ...
    async def tail(self, cursor: list[str] | None) -> TailPage: ...
    async def explain(self, task_id: str) -> Explanation | None: ...
    async def task(self, task_id: str) -> TaskInfo | None: ...
    async def worker_tasks(self, worker_id: str) -> list[RunningTask]: ...
    async def dlq(self, offset: int, limit: int) -> list[DLQEntry]: ...
    async def dlq_groups(self, by: str) -> DLQGroups: ...
    async def workers(self) -> list[WorkerInfo]: ...
    async def schedules(self) -> list[ScheduleInfo]: ...
    async def alerts(self) -> list[Alert]: ...
    def bench_url(self) -> str | None: ...

    async def requeue(
        self, *, task_ids: list[str] | None = None, user: str | None = None,
        error: str | None = None,
    ) -> AdminResult: ...  # fmt: skip
    async def purge(
        self, *, task_ids: list[str] | None = None, user: str | None = None,
        error: str | None = None,
    ) -> AdminResult: ...  # fmt: skip
    async def drain(self, user: str) -> AdminResult: ...
    async def cancel(self, task_id: str) -> AdminResult: ...
    async def retry_now(self, task_id: str) -> AdminResult: ...
    async def pause(self, user: str) -> AdminResult: ...
    async def resume(self, user: str) -> AdminResult: ...
    async def close(self) -> None: ...


class LiveSource:
    """One queue on a real server. Connects lazily and reconnects after a failure, so the
    TUI can start (and keep running) while the server is away."""

    def __init__(self, config: FairQueueConfig, *, read_only: bool = False) -> None:
        self.config = config
        self.read_only = read_only
        self.label = mask_url(config.redis.url)
        self.queue = config.queue.name
        # Made on first use, inside the app's event loop (an asyncio client belongs to one).
        self._queue: AsyncTaskQueue | None = None
        self._inspector: AsyncInspector | None = None
        self._admin: AsyncAdmin | None = None

    def _q(self) -> AsyncTaskQueue:
        if self._queue is None:
            self._queue = AsyncTaskQueue(self.config)
        return self._queue

    def _ins(self) -> AsyncInspector:
        if self._inspector is None:
            self._inspector = AsyncInspector(self.config, queue=self._q(), shares_fresh=1.0)
        return self._inspector

    def _adm(self) -> AsyncAdmin:
        if self._admin is None:
            actor = f"tui:{getpass.getuser()}@{socket.gethostname()}"
            self._admin = AsyncAdmin(
                self.config, queue=self._q(), read_only=self.read_only, actor=actor
            )
        return self._admin

    async def overview(self, sort: str) -> OverviewData:
        ins = self._ins()
        overview = await ins.overview()
        page = await ins.users(limit=USERS_SHOWN, sort=sort, include_idle=True)
        return OverviewData(
            overview=overview,
            users=sort_rows(page, sort),
            workers=await ins.workers(),
            alerts=await ins.alerts(),
        )

    async def user(self, user_id: str, offset: int, limit: int) -> UserDetail:
        return await self._ins().user(user_id, offset, limit)

    async def tenants(self) -> list[TenantRow]:
        return await self._ins().tenants()

    async def tenant(self, tenant: str) -> TenantDetail | None:
        return await self._ins().tenant(tenant, USERS_SHOWN)

    async def tail(self, cursor: list[str] | None) -> TailPage:
        return await self._ins().tail(cursor, TAIL_READ)

    async def explain(self, task_id: str) -> Explanation | None:
        return await self._ins().explain(task_id)

    async def task(self, task_id: str) -> TaskInfo | None:
        return await self._ins().task(task_id)

    async def worker_tasks(self, worker_id: str) -> list[RunningTask]:
        return await self._ins().worker_tasks(worker_id)

    async def dlq(self, offset: int, limit: int) -> list[DLQEntry]:
        return await self._ins().dlq(limit, offset)

    async def dlq_groups(self, by: str) -> DLQGroups:
        return await self._ins().dlq_groups(by)

    async def workers(self) -> list[WorkerInfo]:
        return await self._ins().workers()

    async def schedules(self) -> list[ScheduleInfo]:
        return await self._ins().schedules()

    async def alerts(self) -> list[Alert]:
        return await self._ins().alerts()

    def bench_url(self) -> str | None:
        return self.config.redis.url

    async def requeue(self, **selection: Any) -> AdminResult:
        """``task_ids``, ``user`` or ``error``: see :meth:`DataSource.requeue`."""
        return await self._adm().requeue(selection.pop("task_ids", None), **selection)

    async def purge(self, **selection: Any) -> AdminResult:
        return await self._adm().purge(selection.pop("task_ids", None), **selection)

    async def drain(self, user: str) -> AdminResult:
        return await self._adm().drain(user)

    async def cancel(self, task_id: str) -> AdminResult:
        return await self._adm().cancel([task_id])

    async def retry_now(self, task_id: str) -> AdminResult:
        return await self._adm().retry_now([task_id])

    async def pause(self, user: str) -> AdminResult:
        return await self._adm().pause(user)

    async def resume(self, user: str) -> AdminResult:
        return await self._adm().resume(user)

    async def close(self) -> None:
        if self._queue is not None:
            await self._queue.close()
            self._queue = self._inspector = self._admin = None
