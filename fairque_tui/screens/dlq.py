"""The dead-letter queue: entries or groups (by error, by user); inspect, requeue, delete."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from fairque.core.models import DLQEntry
from fairque.monitoring.models import AdminResult, DLQGroups
from fairque_tui import format as fmt
from fairque_tui.context import TuiContext
from fairque_tui.screens.base import PAGING
from fairque_tui.screens.picking import PICKING, PickingScreen
from fairque_tui.widgets.modals import TextModal
from fairque_tui.widgets.status import Banner, StatusBar
from fairque_tui.widgets.tables import cursor_key, set_columns, sync_rows

PAGE = 100
MODES = ("entries", "error", "user")


@dataclass(frozen=True)
class DLQView:
    entries: list[DLQEntry]
    groups: DLQGroups | None


# What the DLQ screen does to the dead tasks under the cursor or selected.
DLQ_ACTIONS = [
    Binding("g", "group", "Group by"),
    Binding("space", "select", "Select", show=False),
    Binding("enter", "inspect", "Inspect"),
    Binding("r", "requeue", "Requeue"),
    Binding("d", "delete", "Delete"),
    Binding("R", "requeue(False)", "Requeue, no asking", show=False),
    Binding("D", "delete(False)", "Delete, no asking", show=False),
]


class DLQScreen(PickingScreen[DLQView]):
    BINDINGS = [*DLQ_ACTIONS, *PICKING, *PAGING]
    MUTATING = frozenset({"requeue", "delete"})
    TABLE = "#dlq"
    FILTER_HINT = "filter by task, user or error (esc clears)"

    def __init__(self, ctx: TuiContext) -> None:
        super().__init__(ctx)
        self.mode = "entries"
        self.page_offset = 0
        self.view: DLQView | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(self.ctx)
        yield Banner(self.ctx)
        yield Static(id="dlq-summary")
        yield self.filter_box()
        yield DataTable(id="dlq", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()

    async def load(self) -> DLQView:
        if self.mode == "entries":
            return DLQView(await self.source.dlq(self.page_offset, PAGE), None)
        return DLQView([], await self.source.dlq_groups(self.mode))

    def show(self, data: DLQView) -> None:
        self.view = data
        self.keep_selected({e.task_id for e in data.entries})
        self.redraw()

    def redraw(self) -> None:
        data = self.view
        if data is None:
            return
        table = self.query_one(DataTable)
        if data.groups is None:
            set_columns(
                table,
                [("task", "task"), ("sel", "✓"), ("user", "user"), ("attempts", "att"),
                 ("failed", "failed"), ("error", "error")],
            )  # fmt: skip
            now = self.ctx.clock()
            rows = [
                (e.task_id, [e.task_id, self.mark(e.task_id), e.user_id, str(e.attempts),
                             fmt.since(e.failed_at, now), fmt.one_line(e.error, 80)])
                for e in data.entries if self.shown(e.task_id, e.user_id, e.error)
            ]  # fmt: skip
            summary = (
                f"dead tasks {self.page_offset + 1:,}-{self.page_offset + len(data.entries):,}"
                f" · selected {len(self.selected)} · g: group by error"
            )
        else:
            g = data.groups
            set_columns(table, [("key", self.mode), ("count", "count"), ("sample", "e.g.")])
            rows = [
                (grp.key, [grp.key, f"{grp.count:,}", ", ".join(grp.sample_task_ids[:3])])
                for grp in g.groups
                if self.shown(grp.key)
            ]
            summary = (
                f"{g.total:,} dead tasks by {self.mode} ({g.scanned:,} scanned) · "
                f"r requeues the group, d deletes it · g: "
                f"{'group by user' if self.mode == 'error' else 'entries'}"
            )
        sync_rows(table, rows)
        filtered = f" · filter: {self.filter_text!r}" if self.filter_text else ""
        self.query_one("#dlq-summary", Static).update(summary + filtered)

    # -- actions ---------------------------------------------------------------------------------

    def _cursor(self) -> str | None:
        return cursor_key(self.query_one(DataTable))

    def action_group(self) -> None:
        self.mode = MODES[(MODES.index(self.mode) + 1) % len(MODES)]
        self.page_offset = 0
        self.query_one(DataTable).clear(columns=True)
        self.refresh_now()

    def action_page(self, step: int) -> None:
        if self.mode == "entries":
            self.page_offset = max(0, self.page_offset + step * PAGE)
            self.refresh_now()

    def action_select(self) -> None:
        if self.mode == "entries":
            super().action_select()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_inspect()

    def action_inspect(self) -> None:
        key = self._cursor()
        if key is None or self.view is None:
            return
        if self.mode != "entries":
            group = next((g for g in self.view.groups.groups if g.key == key), None)  # type: ignore[union-attr]
            if group is not None:
                body = f"{group.count:,} dead tasks\n\ne.g. " + "\n     ".join(
                    group.sample_task_ids
                )
                self.app.push_screen(TextModal(f"{self.mode}: {key}", body))
            return
        entry = next((e for e in self.view.entries if e.task_id == key), None)
        if entry is not None:
            self.app.push_screen(TextModal(f"dead task {key}", describe(entry)))

    def _targets(self) -> tuple[str, dict[str, object]] | None:
        """What r/d act on: the selection, the row, or the group (by error or user)."""
        key = self._cursor()
        if self.mode == "entries":
            ids = sorted(self.selected) or ([key] if key else [])
            if not ids:
                return None
            label = ids[0] if len(ids) == 1 else f"{len(ids)} selected tasks"
            return label, {"task_ids": ids}
        if key is None:
            return None
        return f"every dead task with {self.mode} {key!r}", {self.mode: key}

    def action_requeue(self, ask: bool = True) -> None:
        self._act("requeue", self.source.requeue, "They go back to ready, attempts reset.", ask)

    def action_delete(self, ask: bool = True) -> None:
        self._act("delete", self.source.purge, "For good: this cannot be undone.", ask)

    def _act(
        self,
        verb: str,
        call: Callable[..., Awaitable[AdminResult]],
        consequence: str,
        ask: bool = True,
    ) -> None:
        target = self._targets()
        if target is None:
            return
        label, kw = target
        self.selected.clear()
        question = f"{verb.capitalize()} {label}? {consequence}" if ask else None
        self.mutate(verb, lambda: call(**kw), question)


def describe(e: DLQEntry) -> str:
    payload = json.dumps(e.payload, indent=2, ensure_ascii=False)
    parts = [
        f"user       {e.user_id}",
        f"priority   {int(e.priority)}",
        f"handler    {e.handler or '-'}",
        f"attempts   {e.attempts}",
        f"worker     {e.worker_id or '-'}",
        f"failed at  {e.failed_at.isoformat() if e.failed_at else '-'}",
        f"error      {e.error_type or ''}: {e.error}",
        "",
        "payload",
        payload,
        "",
        "traceback",
        e.traceback or "(none)",
    ]
    return "\n".join(parts)
