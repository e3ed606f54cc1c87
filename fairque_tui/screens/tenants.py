"""Tenants (key 6): each tenant's users, backlog, in flight, weight, rate limit, and its
served share against its fair share; Enter opens one tenant: its users (the same table and
actions as the overview's) and its tasks in flight."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from fairque.monitoring.models import TenantDetail, TenantRow
from fairque_tui import format as fmt
from fairque_tui.context import TuiContext
from fairque_tui.screens.picking import PICKING, PickingScreen
from fairque_tui.screens.task import TaskScreen
from fairque_tui.screens.user import UserScreen
from fairque_tui.screens.users_table import USER_ACTIONS, UsersTableScreen, running_rows
from fairque_tui.widgets.status import Banner, StatusBar
from fairque_tui.widgets.tables import cursor_key, set_columns, sync_rows

TENANT_COLUMNS = [
    ("tenant", "tenant"), ("sel", "✓"), ("weight", "wt"), ("users", "users"),
    ("active", "with work"), ("ready", "ready"), ("inflight", "run"), ("served", "served"),
    ("fair", "fair"), ("rate", "rate"), ("state", "state"),
]  # fmt: skip
GLOSSARY = [
    ("wt", "the tenant's weight: its turns against the other tenants and the users without one"),
    ("users / with work", "users known to belong to it / of them, users with ready tasks"),
    ("served", "the tenant's share of every task dispatched in the last 5 minutes"),
    ("fair", "what a perfectly fair scheduler would have given it (water-filling over "
             "tenants and tenant-less users by weight; demand = served + queued)"),
    ("rate", "the tenant's rate limit (all its users together), tokens left"),
    ("state", "throttled (out of turn until its next token), idle, or blank when taking turns"),
]  # fmt: skip


def tenant_cells(r: TenantRow, mark: str) -> list[Any]:
    state = (
        Text("throttled", style="bold yellow") if r.throttled_until
        else Text("") if r.in_round_robin or r.ready else Text("idle", style="dim")
    )  # fmt: skip
    rate = f"{r.rate} ({r.tokens} left)" if r.rate else "-"
    return [
        r.tenant, mark, f"{r.weight:g}", fmt.count(r.users), fmt.count(r.active_users),
        fmt.count(r.ready), fmt.count(r.inflight), fmt.share(r.served_share),
        fmt.share(r.fair_share), rate, state,
    ]  # fmt: skip


class TenantsScreen(PickingScreen[list[TenantRow]]):
    """Every tenant, the most backlogged first."""

    BINDINGS = [
        Binding("enter", "open_tenant", "Open tenant"),
        *PICKING,
        Binding("r", "refresh", "Refresh"),
    ]
    TABLE = "#tenants"
    GLOSSARY = GLOSSARY

    def __init__(self, ctx: TuiContext) -> None:
        super().__init__(ctx)
        self.rows: list[TenantRow] = []

    def compose(self) -> ComposeResult:
        yield StatusBar(self.ctx)
        yield Banner(self.ctx)
        yield Static(id="caption")
        yield self.filter_box()
        yield DataTable(id="tenants", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        set_columns(self.query_one("#tenants", DataTable), TENANT_COLUMNS)
        self.query_one("#tenants", DataTable).focus()

    async def load(self) -> list[TenantRow]:
        return await self.source.tenants()

    def show(self, data: list[TenantRow]) -> None:
        self.rows = data
        self.keep_selected({r.tenant for r in data})
        self.redraw()

    def redraw(self) -> None:
        rows = [(r.tenant, tenant_cells(r, self.mark(r.tenant)))
                for r in self.rows if self.shown(r.tenant)]  # fmt: skip
        sync_rows(self.query_one("#tenants", DataTable), rows)
        throttled = sum(1 for r in self.rows if r.throttled_until)
        self.query_one("#caption", Static).update(
            f"tenants {len(self.rows):,} · with work {sum(1 for r in self.rows if r.ready):,}"
            f" · throttled {throttled:,} · enter opens one" + self.caption_suffix()
        )

    def action_open_tenant(self) -> None:
        tenant = cursor_key(self.query_one("#tenants", DataTable))
        if tenant is not None:
            self.app.push_screen(TenantScreen(self.ctx, tenant))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_tenant()

    def action_refresh(self) -> None:
        self.refresh_now()


class TenantScreen(UsersTableScreen[TenantDetail | None]):
    """One tenant: its row, its users (sortable, with the overview's actions) and its tasks in
    flight (enter opens a task)."""

    BINDINGS = [
        Binding("enter", "open", "Open"),
        Binding("s", "sort", "Sort"),
        *USER_ACTIONS,
        Binding("tab", "switch_table", "Users/running", show=False),
        *PICKING,
        Binding("r", "refresh", "Refresh"),
    ]

    def __init__(self, ctx: TuiContext, tenant: str) -> None:
        super().__init__(ctx)
        self.tenant = tenant
        self.detail: TenantDetail | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(self.ctx)
        yield Banner(self.ctx)
        yield Static(id="summary")
        yield self.filter_box()
        yield DataTable(id="users", cursor_type="row", zebra_stripes=True)
        yield Static("in flight", id="running-label")
        yield DataTable(id="running", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        set_columns(
            self.query_one("#running", DataTable),
            [("task", "task"), ("user", "user"), ("worker", "worker"), ("ran", "running for"),
             ("progress", "progress")],
        )  # fmt: skip
        self.query_one("#users", DataTable).focus()

    async def load(self) -> TenantDetail | None:
        return await self.source.tenant(self.tenant)

    def show(self, data: TenantDetail | None) -> None:
        self.detail = data
        if data is None:
            self.query_one("#summary", Static).update(
                f"[b]{self.tenant}[/b] — no such tenant now (its users are idle and forgotten)"
            )
            self.user_rows = []
        else:
            r = data.row
            limit = f" · rate {r.rate} (burst {r.burst}, {r.tokens} left)" if r.rate else ""
            if r.throttled_until:
                limit += f", back at {r.throttled_until:%H:%M:%S}"
            self.query_one("#summary", Static).update(
                f"[b]tenant {r.tenant}[/b] — weight {r.weight:g} · users {r.users:,} (with work "
                f"{r.active_users:,}) · ready {r.ready:,} · in flight {r.inflight:,}"
                + (f" · blocked {r.blocked:,}" if r.blocked else "")
                + f"{limit} · served {fmt.share(r.served_share)} of dispatches, fair "
                f"{fmt.share(r.fair_share)}"
            )
            self.user_rows = data.users
            sync_rows(self.query_one("#running", DataTable), running_rows(data.running, True))
            self.query_one("#running-label", Static).update(f"in flight: {len(data.running)}")
        self.keep_selected({u.user_id for u in self.user_rows})
        self.redraw()

    def action_open(self) -> None:
        running = self.query_one("#running", DataTable)
        if running.has_focus:
            task_id = cursor_key(running)
            if task_id is not None:
                self.app.push_screen(TaskScreen(self.ctx, task_id))
            return
        user = cursor_key(self.query_one("#users", DataTable))
        if user is not None:
            self.app.push_screen(UserScreen(self.ctx, user))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_switch_table(self) -> None:
        users, running = self.query_one("#users", DataTable), self.query_one("#running", DataTable)
        (users if running.has_focus else running).focus()
