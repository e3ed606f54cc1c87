"""The live event tail (key 7): tasks completing, failing, dying, being canceled, requeued,
users being throttled, as the scripts report them (the queue's capped ``tail`` stream, read
from a cursor: no task is polled). ``/`` filters (``user:ann event:dead``, or any text),
space pauses the view (reading goes on, so nothing is missed), enter opens the task, ``x``
selects and ``r`` requeues the selected dead tasks."""

from __future__ import annotations

from collections import Counter, deque

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from fairque.monitoring.models import AdminResult, TailEvent, TailPage
from fairque_tui import format as fmt
from fairque_tui.context import TuiContext
from fairque_tui.screens.picking import PICKING, PickingScreen
from fairque_tui.screens.task import TaskScreen
from fairque_tui.source import TAIL_READ
from fairque_tui.widgets.status import Banner, StatusBar
from fairque_tui.widgets.tables import cursor_key, set_columns

KEPT = 2000  # events kept for the view and its filter (the newest)
SHOWN = 300  # rows the table holds (the newest that pass the filter)
READS_PER_FETCH = 5  # full pages read back to back before the view is drawn
TAIL_SECONDS = 0.5  # between reads, at most (the app's refresh when shorter)
STYLE = {"completed": "green", "failed": "yellow", "dead": "bold red", "canceled": "magenta",
         "throttled": "cyan", "requeued": "blue"}  # fmt: skip
COLUMNS = [
    ("key", "at"), ("sel", "✓"), ("event", "event"), ("task", "task"), ("user", "user"),
    ("tenant", "tenant"), ("handler", "handler"), ("detail", "detail"),
]  # fmt: skip
FIELDS = {"user": "user_id", "tenant": "tenant", "handler": "handler", "event": "event",
          "task": "task_id"}  # fmt: skip


def matches(e: TailEvent, needle: str) -> bool:
    """``field:value`` words must all hold (user, tenant, handler, event, task: a prefix
    match); other words must each appear in one of the event's texts."""
    for word in needle.lower().split():
        name, _, value = word.partition(":")
        if value and name in FIELDS:
            if not str(getattr(e, FIELDS[name]) or "").lower().startswith(value):
                return False
        elif not any(word in (t or "").lower() for t in
                     (e.event, e.task_id, e.user_id, e.tenant, e.handler, e.detail)):  # fmt: skip
            return False
    return True


class TailScreen(PickingScreen[TailPage]):
    """Events as they happen, the newest first."""

    BINDINGS = [
        Binding("space", "pause", "Pause/go on"),
        Binding("enter", "open_task", "Open task"),
        Binding("r", "requeue", "Requeue dead"),
        *PICKING,
    ]
    MUTATING = frozenset({"requeue"})
    TABLE = "#tail"
    FILTER_HINT = "filter: user:ann tenant:acme handler:mail event:dead, or any text (esc clears)"
    GLOSSARY = [
        ("event", "completed, failed (will retry), dead, canceled, throttled (rate limit), "
                  "requeued (from the DLQ, or handed back by a worker that stopped)"),
        ("detail", "run time, the error's first line, who canceled, why throttled"),
        ("missed", "events the server's capped stream dropped before they were read "
                   "(it keeps about 10,000 events)"),
    ]  # fmt: skip

    def __init__(self, ctx: TuiContext) -> None:
        super().__init__(ctx)
        self.cursor: list[str] | None = None
        self.events: deque[TailEvent] = deque(maxlen=KEPT)
        self.seen: Counter[str] = Counter()
        self.paused = False
        self.missed = False
        self.by_key: dict[str, TailEvent] = {}

    def compose(self) -> ComposeResult:
        yield StatusBar(self.ctx)
        yield Banner(self.ctx)
        yield Static(id="caption")
        yield self.filter_box()
        yield DataTable(id="tail", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        set_columns(self.query_one("#tail", DataTable), COLUMNS)
        self.query_one("#tail", DataTable).focus()

    def next_fetch_in(self) -> float:
        return min(self.ctx.refresh_seconds, TAIL_SECONDS)

    async def load(self) -> TailPage:
        """Read on from the cursor: again at once while the pages come back full (a burst),
        up to READS_PER_FETCH pages, so the view keeps up and is still drawn."""
        events: list[TailEvent] = []
        missed = False
        page = TailPage(events=[], cursor=self.cursor or [])
        for _ in range(READS_PER_FETCH):
            page = await self.source.tail(self.cursor)
            first = self.cursor is None
            self.cursor = page.cursor
            events += page.events
            missed |= page.missed
            if first or len(page.events) < TAIL_READ:
                break  # not a full page (or a new reader's newest entries): caught up
        return TailPage(events=events, cursor=page.cursor, missed=missed)

    def show(self, data: TailPage) -> None:
        self.events.extend(data.events)
        self.seen.update(e.event for e in data.events)
        self.missed |= data.missed
        if not self.paused:
            self.redraw()

    def redraw(self) -> None:
        table = self.query_one("#tail", DataTable)
        wanted = [e for e in reversed(self.events) if not self.filter_text
                  or matches(e, self.filter_text)][:SHOWN]  # fmt: skip
        keys = [f"{e.id}/{e.task_id or e.user_id}/{e.event}" for e in wanted]
        self.by_key = dict(zip(keys, wanted, strict=True))
        self.keep_selected(set(keys))
        at = cursor_key(table)
        table.clear()
        for key, e in zip(keys, wanted, strict=True):
            table.add_row(
                fmt.clock(e.at), self.mark(key), Text(e.event, style=STYLE.get(e.event, "")),
                e.task_id or "-", e.user_id, e.tenant or "-", e.handler or "-",
                fmt.one_line(e.detail, 60), key=key,
            )  # fmt: skip
        if at in self.by_key:
            table.move_cursor(row=table.get_row_index(at), scroll=False)
        counts = " · ".join(f"{name} {n:,}" for name, n in self.seen.most_common())
        state = "[b yellow]paused[/] (space goes on)" if self.paused else "live"
        missed = " · [red]missed some (fell behind the stream's cap)[/]" if self.missed else ""
        self.query_one("#caption", Static).update(
            f"events {state} · since opened: {counts or 'none yet'}{missed}" + self.caption_suffix()
        )

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.redraw()

    def _event(self) -> TailEvent | None:
        key = cursor_key(self.query_one("#tail", DataTable))
        return self.by_key.get(key) if key else None

    def action_open_task(self) -> None:
        e = self._event()
        if e is not None and e.task_id:
            self.app.push_screen(TaskScreen(self.ctx, e.task_id))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_task()

    def action_requeue(self) -> None:
        """r: requeue the dead tasks among the picked rows (from the DLQ)."""
        picked = [self.by_key[k] for k in self.picked() if k in self.by_key]
        dead = sorted({e.task_id for e in picked if e.event == "dead" and e.task_id})
        if not dead:
            self.notify("no dead task selected or under the cursor")
            return

        async def requeue(task_id: str) -> AdminResult:
            return await self.source.requeue(task_ids=[task_id])

        self.act_on_each("requeue", dead, requeue,
                         f"Requeue {len(dead)} dead task(s)? They go back to ready.")  # fmt: skip
