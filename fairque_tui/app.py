"""The fairque TUI: one App, a screen per view (Textual modes), data from a DataSource."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.scrollbar import ScrollBar

from fairque_tui.context import AppState, TuiContext, utc_now
from fairque_tui.screens.base import LiveScreen
from fairque_tui.screens.bench import BenchScreen
from fairque_tui.screens.dlq import DLQScreen
from fairque_tui.screens.overview import OverviewScreen
from fairque_tui.screens.tables_screens import AlertsScreen, SchedulesScreen, WorkersScreen
from fairque_tui.screens.tail import TailScreen
from fairque_tui.screens.task import TaskScreen
from fairque_tui.screens.tenants import TenantsScreen
from fairque_tui.source import DataSource
from fairque_tui.widgets.modals import AskModal, HelpModal
from fairque_tui.widgets.scrollbar import WholeCellScrollBarRender


class FairqueApp(App[None]):
    """Live per-user queues, DLQ, workers, schedules, alerts and benchmarks of one queue."""

    CSS_PATH = "app.tcss"
    TITLE = "fairque"
    # The views (Textual modes); each screen is made with the app's TuiContext.
    SCREENS_BY_MODE: dict[str, Callable[[TuiContext], Screen[None]]] = {
        "overview": OverviewScreen,
        "dlq": DLQScreen,
        "workers": WorkersScreen,
        "schedules": SchedulesScreen,
        "alerts": AlertsScreen,
        "tenants": TenantsScreen,
        "tail": TailScreen,
        "bench": BenchScreen,
    }
    DEFAULT_MODE = "overview"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("1", "switch_mode('overview')", "Overview", show=False),
        Binding("2", "switch_mode('dlq')", "DLQ", show=False),
        Binding("3", "switch_mode('workers')", "Workers", show=False),
        Binding("4", "switch_mode('schedules')", "Schedules", show=False),
        Binding("5", "switch_mode('alerts')", "Alerts", show=False),
        Binding("6", "switch_mode('tenants')", "Tenants", show=False),
        Binding("7", "switch_mode('tail')", "Events", show=False),
        Binding("b", "switch_mode('bench')", "Bench"),
        Binding("t", "open_task", "Task by id", show=False),
        Binding("ctrl+s", "screenshot", "Screenshot (SVG)", show=False),
    ]
    # Screen names for help and the command palette, in key order.
    VIEWS = [
        ("1", "overview", "Overview: every user's queue"),
        ("2", "dlq", "DLQ: dead tasks, grouped, requeue or delete"),
        ("3", "workers", "Workers: heartbeats, in flight, stolen"),
        ("4", "schedules", "Schedules: next and last runs"),
        ("5", "alerts", "Alerts: active and recently cleared"),
        ("6", "tenants", "Tenants: users, share against fair share, rate limits"),
        ("7", "tail", "Events: completed, failed, dead, canceled, throttled, live"),
        ("b", "bench", "Bench: run a benchmark scenario"),
    ]

    status_changed: reactive[int] = reactive(0, init=False)

    def __init__(
        self,
        source: DataSource,
        *,
        refresh_seconds: float = 2.0,
        clock: Callable[[], datetime] = utc_now,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__()
        # Every scrollbar of the app (one Textual app per process): thumbs in whole cells.
        ScrollBar.renderer = WholeCellScrollBarRender
        self.ctx = TuiContext(source, refresh_seconds, clock, timer)
        for mode, screen in self.SCREENS_BY_MODE.items():
            self.add_mode(mode, partial(screen, self.ctx))  # made when first shown

    @property
    def source(self) -> DataSource:
        return self.ctx.source

    @property
    def state(self) -> AppState:
        return self.ctx.state

    # -- what the screens report ---------------------------------------------------------------

    def _changed(self) -> None:
        self.status_changed += 1

    def on_live_screen_fetched(self, message: LiveScreen.Fetched) -> None:
        self.state.fetch_ms = message.fetch_ms
        self.state.updated_at = self.ctx.clock()
        self.state.connection_error = None
        self._changed()

    def on_live_screen_fetch_failed(self, message: LiveScreen.FetchFailed) -> None:
        self.state.connection_error = message.error
        self._changed()

    def on_live_screen_server_seen(self, message: LiveScreen.ServerSeen) -> None:
        if (self.state.server, self.state.version) != (message.name, message.version):
            self.state.server, self.state.version = message.name, message.version
            self._changed()

    async def on_unmount(self) -> None:
        await self.ctx.source.close()

    # -- navigation ------------------------------------------------------------------------------

    def action_go_back(self) -> None:
        """esc: close the pushed screen, else go back to the overview."""
        if len(self.screen_stack) > 1:
            self.pop_screen()
        elif self.current_mode != "overview":
            self.switch_mode("overview")

    def action_open_task(self, task_id: str | None = None) -> None:
        """t: a task by its id (asked for), on a screen of its own."""
        if task_id:
            self.push_screen(TaskScreen(self.ctx, task_id))
            return

        def opened(answer: str | None) -> None:
            if answer:
                self.push_screen(TaskScreen(self.ctx, answer))

        self.push_screen(AskModal("Task id:", "the id an application logged"), opened)

    def action_help(self) -> None:
        """Every key of this screen and of the app (the tables' own cursor keys summarised)."""
        screen = self.screen
        bindings: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        # The base screen's j/k come first in Textual's order; list them after the screen's own.
        actives = sorted(
            screen.active_bindings.values(),
            key=lambda a: (a.node is self, a.binding.action.startswith("cursor_")),
        )
        for active in actives:
            binding = active.binding
            if active.node not in (screen, self) or not active.enabled:
                continue
            entry = (self.get_key_display(binding), binding.description)
            if entry in seen or not binding.description:
                continue
            seen.add(entry)
            bindings.append(entry)
        shown = {key for key, _ in bindings}
        bindings += [(key, what) for key, _, what in self.VIEWS if key not in shown]
        bindings += [
            ("t", "Open a task by its id"),
            ("/ x", "Filter the table / select the row under the cursor"),
            ("Shift+key", "Act without the confirmation (D drains, C cancels)"),
            ("↑ ↓ / j k", "Move in the table"),
            ("pgup pgdn home end", "Scroll the table"),
            ("ctrl+p", "Command palette (screens, help, theme)"),
            ("ctrl+s", "Save a screenshot (SVG)"),
        ]
        glossary: list[tuple[str, str]] = getattr(screen, "GLOSSARY", [])
        name = type(screen).__name__.removesuffix("Screen")
        self.push_screen(HelpModal(name, bindings, glossary))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for _key, mode, what in self.VIEWS:
            yield SystemCommand(f"Go to {mode}", what, lambda m=mode: self.switch_mode(m))
        yield SystemCommand("Help", "Every key binding here", self.action_help)
        yield SystemCommand("Open a task", "A task by its id (t)", self.action_open_task)
