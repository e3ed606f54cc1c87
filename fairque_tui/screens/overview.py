"""The overview: every user's queue, the throughput chart, workers and alerts at a glance."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Input, Static

from fairque.monitoring.models import Alert, UserRow, WorkerInfo
from fairque_tui import format as fmt
from fairque_tui.context import TuiContext
from fairque_tui.screens.base import USER_ACTIONS, LiveScreen
from fairque_tui.screens.user import UserScreen
from fairque_tui.source import OverviewData
from fairque_tui.widgets.charts import ThroughputChart
from fairque_tui.widgets.status import Banner, StatusBar
from fairque_tui.widgets.tables import cursor_key, set_columns, sync_rows

SORTS = ("backlog", "wait", "name")
WIDE = 110  # from this width on, the table shows every priority in its own column

NARROW_COLUMNS = [
    ("user", "user"), ("weight", "wt"), ("critical", "crit"), ("ready", "ready"),
    ("inflight", "run"), ("oldest", "oldest"), ("p95", "p95 wait"), ("served", "served"),
    ("fair", "fair"), ("state", "state"),
]  # fmt: skip
WIDE_COLUMNS = [
    ("user", "user"), ("weight", "weight"), ("critical", "crit"), ("p5", "p5"), ("p4", "p4"),
    ("p3", "p3"), ("p2", "p2"), ("p1", "p1"), ("inflight", "in flight"), ("oldest", "oldest"),
    ("p95", "p95 wait"), ("served", "served"), ("fair", "fair"), ("state", "state"),
]  # fmt: skip
# What the users table's columns mean (shown by "?").
GLOSSARY = [
    ("wt / weight", "the user's weight (↑: boosted for now)"),
    ("crit, p5..p1", "ready tasks by priority (crit runs before everything)"),
    ("ready / run", "tasks waiting / in flight now"),
    ("oldest", "age of the oldest ready task"),
    ("p95 wait", "95th percentile of push-to-start waits, last 100 tasks"),
    ("served", "the user's share of every task dispatched in the last 5 minutes"),
    ("fair", "what a perfectly fair scheduler would have given it of those dispatches, "
             "given what every user asked for (served + queued) and the weights: users that "
             "wanted less get all they wanted, the rest is split by weight. served = fair: "
             "treated fairly; served < fair: it waited; '-': it asked for nothing"),
    ("state", "paused, throttled (rate limit), capped (at its max in flight) or soft cap "
     "(served over its cap only when nobody else has work); blank when nothing holds it back"),
]  # fmt: skip


def user_cells(row: UserRow, wide: bool) -> list[Any]:
    state = (
        "paused" if row.paused else "throttled" if row.throttled_until
        else ("capped" if row.cap_mode == "hard" else "soft cap") if row.capped else ""
    )  # fmt: skip
    weight = f"{row.weight:g}" + ("↑" if row.boosted_until else "")
    head: list[Any] = [row.user_id, weight, fmt.count(row.critical)]
    if wide:
        head += [fmt.count(row.by_priority.get(p, 0)) for p in (5, 4, 3, 2, 1)]
    else:
        head += [fmt.count(row.ready)]
    styled_state = Text(state, style="bold yellow") if state else Text("")
    return [
        *head,
        fmt.count(row.inflight),
        fmt.age(row.oldest_age_seconds),
        fmt.ms(row.p95_wait_ms),
        fmt.share(row.served_share),
        fmt.share(row.fair_share),
        styled_state,
    ]


def alert_line(a: Alert) -> Text:
    colour = "red" if a.severity == "critical" else "yellow"
    return Text.assemble(("● ", colour), (f"{a.rule} ", "bold"), a.message)


class OverviewScreen(LiveScreen[OverviewData]):
    """Per-user table (sortable, filterable), throughput, workers and alerts."""

    BINDINGS = [
        Binding("enter", "open_user", "Open user"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        *USER_ACTIONS,
        Binding("r", "refresh", "Refresh"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]
    MUTATING = frozenset({"pause", "drain"})
    TABLE = "#users"
    GLOSSARY = GLOSSARY

    def __init__(self, ctx: TuiContext) -> None:
        super().__init__(ctx)
        self.sort = "backlog"
        self.filter_text = ""
        self.data: OverviewData | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(self.ctx)
        yield Banner(self.ctx)
        yield Static(id="totals")
        yield Input(placeholder="filter users (esc clears)", id="filter")
        yield DataTable(id="users", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="lower"):
            yield ThroughputChart(id="throughput")
            with Vertical(id="side"):
                yield DataTable(id="workers", cursor_type="none", show_cursor=False)
                yield Static(id="alerts")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        workers = self.query_one("#workers", DataTable)
        workers.add_columns("worker", "beat", "run", "stolen")
        self.query_one("#users", DataTable).focus()

    async def load(self) -> OverviewData:
        return await self.source.overview(self.sort)

    def show(self, data: OverviewData) -> None:
        self.data = data
        self.post_message(self.ServerSeen(data.overview.server.name, data.overview.server.version))
        self.ctx.state.alerts_seen(data.alerts, self.ctx.clock())
        t = data.overview.totals
        self.query_one("#totals", Static).update(
            f"ready [b]{t.ready:,}[/b] · delayed {t.delayed:,} · in flight {t.inflight:,} · "
            f"dead [b]{t.dead:,}[/b]"
            + (f" · blocked {t.blocked:,}" if t.blocked else "")
            + f" · users with work {t.backlogged_users:,} of {len(data.users.rows):,} shown "
            f"(in the round-robin {t.active_users:,}, paused {t.paused_users:,}) · "
            f"workers {t.workers} · sort: {self.sort}"
            + (f" · filter: {self.filter_text!r}" if self.filter_text else "")
        )
        self._show_users()
        self.query_one(ThroughputChart).show(data.overview.throughput)
        self._show_workers(data.workers)
        alerts = self.query_one("#alerts", Static)
        if data.alerts:
            lines = Text("\n").join(alert_line(a) for a in data.alerts[:6])
            alerts.update(lines)
        else:
            alerts.update(Text("no alerts", style="green"))

    def _show_users(self) -> None:
        if self.data is None:
            return
        table = self.query_one("#users", DataTable)
        wide = self.size.width >= WIDE
        set_columns(table, WIDE_COLUMNS if wide else NARROW_COLUMNS)
        needle = self.filter_text.lower()
        rows = [
            (r.user_id, user_cells(r, wide))
            for r in self.data.users.rows
            if needle in r.user_id.lower()
        ]
        sync_rows(table, rows)

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
        self._show_users()

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

    def action_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.notify(f"sorted by {self.sort}")
        self.refresh_now()

    def action_refresh(self) -> None:
        self.refresh_now()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._show_users()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#users", DataTable).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.filter_text = ""
        self._show_users()
        self.query_one("#users", DataTable).focus()

    def _row(self, user: str) -> UserRow | None:
        rows = self.data.users.rows if self.data else []
        return next((r for r in rows if r.user_id == user), None)

    def action_pause(self) -> None:
        user = self.selected_user()
        if user is None:
            return
        row = self._row(user)
        if row is not None and row.paused:
            self.mutate(f"resume {user}", lambda: self.source.resume(user), None)
        else:
            self.mutate(f"pause {user}", lambda: self.source.pause(user), None)

    def action_drain(self) -> None:
        user = self.selected_user()
        if user is None:
            return
        row = self._row(user)
        n = row.ready if row else 0
        self.mutate(
            f"drain {user}",
            lambda: self.source.drain(user),
            f"Drain {user}? Its {n:,} ready task(s) are cancelled (in-flight ones finish).",
        )
