"""One user: its pending tasks by priority (paged), its tasks in flight with their progress,
its backlog over the last hour, actions (pause, drain, cancel the task under the cursor)."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Sparkline, Static

from fairque.core.exceptions import FairQueueError
from fairque.monitoring.models import Explanation, UserDetail
from fairque.monitoring.readable import dependency_lines
from fairque_tui import format as fmt
from fairque_tui.context import TuiContext
from fairque_tui.screens.base import PAGING
from fairque_tui.screens.picking import PICKING, PickingScreen
from fairque_tui.screens.task import TaskScreen
from fairque_tui.screens.users_table import USER_ACTIONS, running_rows
from fairque_tui.widgets.modals import TextModal
from fairque_tui.widgets.status import Banner, StatusBar
from fairque_tui.widgets.tables import cursor_key, set_columns, sync_rows

PAGE = 20  # tasks per priority per page


class UserScreen(PickingScreen[UserDetail]):
    BINDINGS = [
        *USER_ACTIONS,
        Binding("enter", "explain", "Explain task"),
        Binding("c", "cancel_task", "Cancel task"),
        Binding("C", "cancel_task(False)", "Cancel, no asking", show=False),
        Binding("o", "open_task", "Open task"),
        Binding("tab", "switch_table", "Pending/running", show=False),
        *PICKING,
        *PAGING,
        Binding("r", "refresh", "Refresh"),
    ]
    MUTATING = frozenset({"pause", "drain", "cancel_task"})
    TABLE = "#pending"
    FILTER_HINT = "filter task ids (esc clears)"

    def __init__(self, ctx: TuiContext, user_id: str) -> None:
        super().__init__(ctx)
        self.user_id = user_id
        self.page_offset = 0
        self.detail: UserDetail | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(self.ctx)
        yield Banner(self.ctx)
        yield Static(id="summary")
        yield Static("backlog, last 60 minutes", id="spark-label")
        yield Sparkline([], id="backlog")
        yield self.filter_box()
        yield DataTable(id="pending", cursor_type="row", zebra_stripes=True)
        yield Static("in flight", id="running-label")
        yield DataTable(id="running", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        set_columns(
            self.query_one("#pending", DataTable),
            [("task", "task"), ("sel", "✓"), ("priority", "priority"), ("age", "waiting")],
        )
        set_columns(
            self.query_one("#running", DataTable),
            [("task", "task"), ("worker", "worker"), ("ran", "running for"),
             ("progress", "progress")],
        )  # fmt: skip
        self.query_one("#pending", DataTable).focus()

    async def load(self) -> UserDetail:
        return await self.source.user(self.user_id, self.page_offset, PAGE)

    def show(self, data: UserDetail) -> None:
        self.detail = data
        r = data.row
        state = (
            "[b yellow]paused[/]" if r.paused else "throttled" if r.throttled_until
            else ("capped" if r.cap_mode == "hard" else "soft cap") if r.capped else "active"
        )  # fmt: skip
        limit = ""
        if r.rate:
            limit = f" · rate {r.rate} (burst {r.burst}, {r.tokens} left)"
            if r.throttled_until:
                limit += f", back at {r.throttled_until:%H:%M:%S}"
        soft = " (soft)" if r.cap_mode == "soft" else ""
        cap = f" of {r.max_inflight}{soft}" if r.max_inflight else ""
        tenant = f" (tenant {r.tenant}, weight {data.tenant_weight:g})" if r.tenant else ""
        run = "" if r.mean_run_seconds is None else f", mean run {r.mean_run_seconds:g} s"
        run = f" · fair by {data.fairness}{run}"
        self.query_one("#summary", Static).update(
            f"[b]{r.user_id}[/b]{tenant} — {state} · weight {r.weight:g}{run} · ready {r.ready:,} "
            f"(critical {r.critical:,}) · in flight {r.inflight}{cap}{limit} · oldest "
            f"{fmt.age(r.oldest_age_seconds)} · wait p50 {fmt.ms(r.p50_wait_ms)} p95 "
            f"{fmt.ms(r.p95_wait_ms)} · served {fmt.share(r.served_share)} of "
            f"dispatches, fair {fmt.share(r.fair_share)}"
        )
        self.query_one(Sparkline).data = [float(x) for x in data.backlog_history]
        self.keep_selected({t.task_id for tasks in data.pending.values() for t in tasks})
        self.redraw()
        sync_rows(self.query_one("#running", DataTable), running_rows(data.running, False))
        blocked = f" · blocked on parents: {data.row.blocked:,}" if data.row.blocked else ""
        self.query_one("#running-label", Static).update(f"in flight: {len(data.running)}{blocked}")

    def redraw(self) -> None:
        """The pending tasks this page holds (the filter's, the selection marked)."""
        if self.detail is None:
            return
        rows = []
        for priority in sorted(self.detail.pending, reverse=True):
            for t in self.detail.pending[priority]:
                if self.shown(t.task_id):
                    cells = [t.task_id, self.mark(t.task_id), str(priority), fmt.age(t.age_seconds)]
                    rows.append((t.task_id, cells))
        sync_rows(self.query_one("#pending", DataTable), rows)
        page = self.page_offset // PAGE + 1
        self.query_one("#spark-label", Static).update(
            f"backlog, last 60 minutes · pending tasks page {page} ({PAGE} per priority)"
            + self.caption_suffix()
        )

    def action_page(self, step: int) -> None:
        self.page_offset = max(0, self.page_offset + step * PAGE)
        self.refresh_now()

    def action_refresh(self) -> None:
        self.refresh_now()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_explain()

    def _table(self) -> DataTable[str]:
        """The table with the focus (pending, or in flight)."""
        running = self.query_one("#running", DataTable)
        return running if running.has_focus else self.query_one("#pending", DataTable)

    def action_switch_table(self) -> None:
        pending, running = (
            self.query_one("#pending", DataTable),
            self.query_one("#running", DataTable),
        )
        (pending if running.has_focus else running).focus()

    def action_explain(self) -> None:
        task_id = cursor_key(self._table())
        if task_id is not None:
            self._explain(task_id)

    def action_open_task(self) -> None:
        """o: the task under the cursor in its own view (state, payload, result, actions)."""
        task_id = cursor_key(self._table())
        if task_id is not None:
            self.app.push_screen(TaskScreen(self.ctx, task_id))

    def action_cancel_task(self, ask: bool = True) -> None:
        """c: cancel the selected pending tasks, or the task under the cursor (C: without
        asking)."""
        running = self.query_one("#running", DataTable).has_focus
        task_ids = ([cursor_key(self._table())] if running else self.picked()) or []
        task_ids = [t for t in task_ids if t]
        if not task_ids:
            self.notify("no task under the cursor")
            return
        self._cancel(task_ids, ask)

    def _cancel(self, task_ids: list[str], ask: bool = True) -> None:
        """Cancel tasks of this user, after a confirmation (from the tables, or its view)."""
        running = self.detail is not None and any(
            t.task_id in task_ids for t in self.detail.running
        )
        how = (
            "a running task's worker is told to stop it (it ends canceled, never retried)"
            if running
            else "they will never run"
        )
        what = task_ids[0] if len(task_ids) == 1 else f"{len(task_ids)} tasks"
        self.act_on_each(
            "cancel", task_ids, self.source.cancel,
            f"Cancel {what} of {self.user_id}? {how}." if ask else None,
        )  # fmt: skip

    @work(group="explain")
    async def _explain(self, task_id: str) -> None:
        try:
            info = await self.source.explain(task_id)
        except FairQueueError as exc:
            self.notify(str(exc), severity="error")
            return
        self._show_explanation(task_id, info)

    def _show_explanation(self, task_id: str, info: Explanation | None) -> None:
        if info is None:
            self.notify(f"task {task_id} is gone", severity="warning")
            return
        lines = [info.summary, ""]
        graph = {"summary", "parents", "parent_states", "dependents", "dependent_states"}
        for name, value in info.model_dump(exclude=graph).items():
            if value not in (None, [], ""):
                lines.append(f"{name}: {value}")
        lines += dependency_lines(info)  # its parents (a group's progress) and dependents
        cancel = None if self.source.read_only else (lambda: self._cancel([task_id]))
        self.app.push_screen(TextModal(f"task {task_id}", "\n".join(lines), on_cancel=cancel))

    def action_pause(self) -> None:
        user = self.user_id
        if self.detail is not None and self.detail.row.paused:
            self.mutate(f"resume {user}", lambda: self.source.resume(user), None)
        else:
            self.mutate(f"pause {user}", lambda: self.source.pause(user), None)

    def action_drain(self, ask: bool = True) -> None:
        user = self.user_id
        n = self.detail.row.ready if self.detail else 0
        self.mutate(
            f"drain {user}",
            lambda: self.source.drain(user),
            f"Drain {user}? Its {n:,} ready task(s) are cancelled (in-flight ones finish)."
            if ask else None,
        )  # fmt: skip
