"""The overview: every user's queue, the throughput chart, workers and alerts at a glance."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Static

from fairque.monitoring.models import Alert, WorkerInfo
from fairque_tui import format as fmt
from fairque_tui.context import TuiContext
from fairque_tui.screens.picking import PICKING
from fairque_tui.screens.user import UserScreen
from fairque_tui.screens.users_table import USER_ACTIONS, UsersTableScreen
from fairque_tui.source import OverviewData
from fairque_tui.widgets.charts import ThroughputChart
from fairque_tui.widgets.status import Banner, StatusBar
from fairque_tui.widgets.tables import cursor_key, sync_rows


def alert_line(a: Alert) -> Text:
    colour = "red" if a.severity == "critical" else "yellow"
    return Text.assemble(("● ", colour), (f"{a.rule} ", "bold"), a.message)


class OverviewScreen(UsersTableScreen[OverviewData]):
    """Per-user table (sortable, filterable, picked from), throughput, workers and alerts."""

    BINDINGS = [
        Binding("enter", "open_user", "Open user"),
        Binding("s", "sort", "Sort"),
        *USER_ACTIONS,
        *PICKING,
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self, ctx: TuiContext) -> None:
        super().__init__(ctx)
        self.data: OverviewData | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(self.ctx)
        yield Banner(self.ctx)
        yield Static(id="totals")
        yield self.filter_box()
        yield DataTable(id="users", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="lower"):
            yield ThroughputChart(id="throughput")
            with Vertical(id="side"):
                yield DataTable(id="workers", cursor_type="none", show_cursor=False)
                yield Static(id="alerts")
        yield Footer()

    def on_mount(self) -> None:
        workers = self.query_one("#workers", DataTable)
        workers.add_columns("worker", "beat", "run", "stolen")
        self.query_one("#users", DataTable).focus()

    async def load(self) -> OverviewData:
        return await self.source.overview(self.sort)

    def show(self, data: OverviewData) -> None:
        self.data = data
        self.user_rows = data.users.rows
        self.keep_selected({r.user_id for r in self.user_rows})
        self.post_message(self.ServerSeen(data.overview.server.name, data.overview.server.version))
        self.ctx.state.alerts_seen(data.alerts, self.ctx.clock())
        self.redraw()
        self.query_one(ThroughputChart).show(data.overview.throughput)
        self._show_workers(data.workers)
        alerts = self.query_one("#alerts", Static)
        if data.alerts:
            lines = Text("\n").join(alert_line(a) for a in data.alerts[:6])
            alerts.update(lines)
        else:
            alerts.update(Text("no alerts", style="green"))

    def redraw(self) -> None:
        super().redraw()
        if self.data is None:
            return
        t = self.data.overview.totals
        self.query_one("#totals", Static).update(
            f"ready [b]{t.ready:,}[/b] · delayed {t.delayed:,} · in flight {t.inflight:,} · "
            f"dead [b]{t.dead:,}[/b]"
            + (f" · blocked {t.blocked:,}" if t.blocked else "")
            + f" · users with work {t.backlogged_users:,} of {len(self.user_rows):,} shown "
            f"(in the round-robin {t.active_users:,}, paused {t.paused_users:,}) · "
            f"workers {t.workers} · sort: {self.sort}" + self.caption_suffix()
        )

    def _show_workers(self, workers: list[WorkerInfo]) -> None:
        table = self.query_one("#workers", DataTable)
        now = self.ctx.clock()
        rows = []
        for w in workers:
            beat = Text(fmt.since(w.last_beat, now), style="red" if w.stale else "")
            rows.append((w.worker_id, [w.worker_id, beat, str(w.inflight), str(w.stolen)]))
        sync_rows(table, rows)

    def on_resize(self) -> None:
        # The chart and the side panels get a third of a tall terminal, 10 lines at least.
        self.query_one("#lower").styles.height = max(10, self.size.height // 3)
        self.redraw()

    # -- actions ---------------------------------------------------------------------------------

    def selected_user(self) -> str | None:
        return cursor_key(self.query_one("#users", DataTable))

    def action_open_user(self) -> None:
        user = self.selected_user()
        if user is not None:
            self.app.push_screen(UserScreen(self.ctx, user))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "users":
            self.action_open_user()
