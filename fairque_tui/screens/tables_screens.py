"""Screens that are one table each: workers, schedules, alerts (active and recently cleared)."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from fairque.core.exceptions import FairQueueError
from fairque.monitoring.models import Alert, WorkerInfo
from fairque.scheduler import ScheduleInfo
from fairque_tui import format as fmt
from fairque_tui.screens.base import LiveScreen
from fairque_tui.screens.task import TaskScreen
from fairque_tui.widgets.modals import PickModal
from fairque_tui.widgets.status import Banner, StatusBar
from fairque_tui.widgets.tables import cursor_key, set_columns, sync_rows

_COMMON: list[BindingType] = [
    Binding("escape", "app.go_back", "Back", show=False),
    Binding("r", "refresh", "Refresh"),
]


T = TypeVar("T")
Row = tuple[str, list[object]]  # key, cells


class _TableScreen(LiveScreen[list[T]]):
    """A status bar, a caption and one table: ``COLUMNS`` (key, label) and ``rows``."""

    BINDINGS = _COMMON
    caption = ""
    noun = ""  # what the caption counts
    COLUMNS: ClassVar[list[tuple[str, str]]] = []

    def rows(self, data: list[T]) -> list[Row]:
        raise NotImplementedError

    def show(self, data: list[T]) -> None:
        table = self.query_one(DataTable)
        set_columns(table, self.COLUMNS)
        sync_rows(table, self.rows(data))
        self.query_one("#caption", Static).update(f"{len(data)} {self.noun}(s)")

    def compose(self) -> ComposeResult:
        yield StatusBar(self.ctx)
        yield Banner(self.ctx)
        yield Static(self.caption, id="caption")
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()

    def action_refresh(self) -> None:
        self.refresh_now()


class WorkersScreen(_TableScreen[WorkerInfo]):
    caption = "workers (stale: no heartbeat for three intervals)"
    noun = "worker"
    COLUMNS = [
        ("worker", "worker"), ("serves", "serves"), ("steals", "steals"), ("kind", "kind"),
        ("status", "status"), ("host", "host:pid"), ("beat", "last beat"), ("run", "in flight"),
        ("conc", "of"), ("done", "processed"), ("failed", "failed"), ("stolen", "stolen"),
        ("up", "up since"),
    ]  # fmt: skip

    BINDINGS = [*_COMMON, Binding("enter", "held", "Its tasks")]

    async def load(self) -> list[WorkerInfo]:
        return await self.source.workers()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_held()

    def action_held(self) -> None:
        worker_id = cursor_key(self.query_one(DataTable))
        if worker_id is not None:
            self._held(worker_id)

    @work(group="held")
    async def _held(self, worker_id: str) -> None:
        """The tasks the worker holds; enter opens one (its task view)."""
        try:
            tasks = await self.source.worker_tasks(worker_id)
        except FairQueueError as exc:
            self.notify(str(exc), severity="error")
            return
        rows = [(t.task_id, [t.task_id, t.user_id or "-", fmt.age(t.run_seconds),
                             "canceling" if t.cancel_requested else
                             ("-" if t.progress is None else f"{t.progress:.0%}")])
                for t in tasks]  # fmt: skip
        title = f"tasks worker {worker_id} holds: {len(tasks)} (enter opens one)"
        columns = ["task", "user", "running for", "progress"]
        self.app.push_screen(PickModal(title, columns, rows), self._open)

    def _open(self, task_id: str | None) -> None:
        if task_id:
            self.app.push_screen(TaskScreen(self.ctx, task_id))

    def rows(self, data: list[WorkerInfo]) -> list[Row]:
        now = self.ctx.clock()
        rows: list[Row] = []
        for w in data:
            status = Text("stale", style="bold red") if w.stale else Text(w.status or "-")
            rows.append((w.worker_id, [
                w.worker_id, *w.registration_text(), w.kind or "-", status,
                f"{w.host or '-'}:{w.pid or '-'}", fmt.since(w.last_beat, now), str(w.inflight),
                str(w.concurrency or "-"), f"{w.processed:,}", f"{w.failed:,}", f"{w.stolen:,}",
                fmt.clock(w.started_at),
            ]))  # fmt: skip
        return rows


class SchedulesScreen(_TableScreen[ScheduleInfo]):
    caption = "schedules"
    noun = "schedule"
    COLUMNS = [
        ("name", "name"), ("cron", "cron"), ("tz", "zone"), ("user", "user"), ("pri", "pri"),
        ("on", "enabled"), ("next", "next run"), ("last", "last run"), ("source", "from"),
    ]  # fmt: skip

    async def load(self) -> list[ScheduleInfo]:
        return await self.source.schedules()

    def rows(self, data: list[ScheduleInfo]) -> list[Row]:
        rows: list[Row] = []
        for info in data:
            s = info.schedule
            nxt = info.next_run.strftime("%Y-%m-%d %H:%M:%S") if info.next_run else "-"
            last = info.last_run.strftime("%Y-%m-%d %H:%M:%S") if info.last_run else "-"
            rows.append((s.name, [
                s.name, s.cron, s.timezone, s.user_id, str(int(s.priority)),
                "yes" if s.enabled else Text("no", style="yellow"), nxt, last, info.source,
            ]))  # fmt: skip
        return rows


class AlertsScreen(_TableScreen[Alert]):
    TABLE = "#active"
    caption = "alerts"

    def compose(self) -> ComposeResult:
        yield StatusBar(self.ctx)
        yield Banner(self.ctx)
        yield Static("active", id="caption")
        yield DataTable(id="active", cursor_type="row", zebra_stripes=True)
        yield Static("recently cleared", id="caption-recent")
        yield DataTable(id="recent", cursor_type="none", zebra_stripes=True)
        yield Footer()

    COLUMNS = [("key", "rule · subject"), ("severity", "severity"), ("since", "since"),
               ("message", "message")]  # fmt: skip

    def on_mount(self) -> None:
        for table in self.query(DataTable):
            set_columns(table, self.COLUMNS)
        self.query_one("#active", DataTable).focus()

    async def load(self) -> list[Alert]:
        return await self.source.alerts()

    def show(self, data: list[Alert]) -> None:
        alerts = data
        self.ctx.state.alerts_seen(alerts, self.ctx.clock())
        now = self.ctx.clock()

        def cells(a: Alert, when: str) -> list[object]:
            colour = "red" if a.severity == "critical" else "yellow"
            return [f"{a.rule} · {a.subject}", Text(a.severity, style=colour), when, a.message]

        sync_rows(
            self.query_one("#active", DataTable),
            [(f"{a.rule} · {a.subject}", cells(a, fmt.since(a.since, now))) for a in alerts],
        )
        recent = self.ctx.state.cleared_alerts
        sync_rows(
            self.query_one("#recent", DataTable),
            [(f"{a.rule} · {a.subject}", cells(a, f"cleared {fmt.since(at, now)}"))
             for a, at in recent],
        )  # fmt: skip
        self.query_one("#caption", Static).update(f"active: {len(alerts)}")
        self.query_one("#caption-recent", Static).update(f"recently cleared: {len(recent)}")
