"""Where the TUI's data comes from. The screens know only :class:`DataSource`.

:class:`LiveSource` reads through the Inspector and changes through the Admin of one queue;
the tests' snapshots use fixed data behind the same interface. Every method may be called
from a worker thread and may raise :class:`~fairque.FairQueueError` (a lost connection).
"""

from __future__ import annotations

import getpass
import socket
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from fairque.core.config import FairQueueConfig
from fairque.core.models import DLQEntry
from fairque.monitoring import Admin, Inspector
from fairque.monitoring.merge import user_order
from fairque.monitoring.models import (
    AdminResult,
    Alert,
    DLQGroups,
    Explanation,
    Overview,
    UserDetail,
    UserPage,
    WorkerInfo,
)
from fairque.queue import TaskQueue
from fairque.scheduler import ScheduleInfo
from fairque.util import mask_url

USERS_SHOWN = 200  # the overview's table: the top users by the chosen sort


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

    def overview(self, sort: str) -> OverviewData: ...
    def user(self, user_id: str, offset: int, limit: int) -> UserDetail: ...
    def explain(self, task_id: str) -> Explanation | None: ...
    def dlq(self, offset: int, limit: int) -> list[DLQEntry]: ...
    def dlq_groups(self, by: str) -> DLQGroups: ...
    def workers(self) -> list[WorkerInfo]: ...
    def schedules(self) -> list[ScheduleInfo]: ...
    def alerts(self) -> list[Alert]: ...
    def bench_url(self) -> str | None: ...

    def requeue(
        self, *, task_ids: list[str] | None = None, user: str | None = None,
        error: str | None = None,
    ) -> AdminResult: ...  # fmt: skip
    def purge(
        self, *, task_ids: list[str] | None = None, user: str | None = None,
        error: str | None = None,
    ) -> AdminResult: ...  # fmt: skip
    def drain(self, user: str) -> AdminResult: ...
    def pause(self, user: str) -> AdminResult: ...
    def resume(self, user: str) -> AdminResult: ...
    def close(self) -> None: ...


class LiveSource:
    """One queue on a real server. Connects lazily and reconnects after a failure, so the
    TUI can start (and keep running) while the server is away."""

    def __init__(self, config: FairQueueConfig, *, read_only: bool = False) -> None:
        self.config = config
        self.read_only = read_only
        self.label = mask_url(config.redis.url)
        self.queue = config.queue.name
        # Only opening is serialised: reads and actions run side by side (the queue's client
        # is thread-safe, and so is the Inspector's alert tracker).
        self._opening = threading.Lock()
        self._tq = TaskQueue(config)
        self._inspector: Inspector | None = None
        self._admin: Admin | None = None

    def _ins(self) -> Inspector:
        with self._opening:
            if self._inspector is None:
                self._inspector = Inspector(self.config, queue=self._tq)  # opens: may raise
            return self._inspector

    def _adm(self) -> Admin:
        with self._opening:
            if self._admin is None:
                actor = f"tui:{getpass.getuser()}@{socket.gethostname()}"
                self._admin = Admin(
                    self.config, queue=self._tq, read_only=self.read_only, actor=actor
                )
            return self._admin

    def overview(self, sort: str) -> OverviewData:
        ins = self._ins()
        return OverviewData(
            overview=ins.overview(),
            users=sort_rows(ins.users(limit=USERS_SHOWN, sort=sort, include_idle=True), sort),
            workers=ins.workers(),
            alerts=ins.alerts(),
        )

    def user(self, user_id: str, offset: int, limit: int) -> UserDetail:
        return self._ins().user(user_id, offset, limit)

    def explain(self, task_id: str) -> Explanation | None:
        return self._ins().explain(task_id)

    def dlq(self, offset: int, limit: int) -> list[DLQEntry]:
        return self._ins().dlq(limit, offset)

    def dlq_groups(self, by: str) -> DLQGroups:
        return self._ins().dlq_groups(by)

    def workers(self) -> list[WorkerInfo]:
        return self._ins().workers()

    def schedules(self) -> list[ScheduleInfo]:
        return self._ins().schedules()

    def alerts(self) -> list[Alert]:
        return self._ins().alerts()

    def bench_url(self) -> str | None:
        return self.config.redis.url

    def requeue(self, **selection: Any) -> AdminResult:
        """``task_ids``, ``user`` or ``error``: see :meth:`DataSource.requeue`."""
        return self._adm().requeue(selection.pop("task_ids", None), **selection)

    def purge(self, **selection: Any) -> AdminResult:
        return self._adm().purge(selection.pop("task_ids", None), **selection)

    def drain(self, user: str) -> AdminResult:
        return self._adm().drain(user)

    def pause(self, user: str) -> AdminResult:
        return self._adm().pause(user)

    def resume(self, user: str) -> AdminResult:
        return self._adm().resume(user)

    def close(self) -> None:
        self._tq.close()
