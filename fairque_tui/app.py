"""The fairque TUI: one App, a screen per view (Textual modes), data from a DataSource."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.scrollbar import ScrollBar

from fairque.monitoring.models import Alert
from fairque_tui.screens.bench import BenchScreen
from fairque_tui.screens.dlq import DLQScreen
from fairque_tui.screens.overview import OverviewScreen
from fairque_tui.screens.tables_screens import AlertsScreen, SchedulesScreen, WorkersScreen
from fairque_tui.source import DataSource
from fairque_tui.widgets.modals import HelpModal
from fairque_tui.widgets.scrollbar import WholeCellScrollBarRender

RECENT_ALERTS = 20


@dataclass
class AppState:
    """What the status bar and banner show; changed only on the UI thread."""

    queue: str
    label: str
    server: str | None = None
    version: str | None = None
    fetch_ms: float = 0.0
    updated_at: datetime | None = None
    connection_error: str | None = None
    live_alerts: dict[tuple[str, str], Alert] = field(default_factory=dict)
    cleared_alerts: list[tuple[Alert, datetime]] = field(default_factory=list)


def utc_now() -> datetime:
    return datetime.now(UTC)


class FairqueApp(App[None]):
    """Live per-user queues, DLQ, workers, schedules, alerts and benchmarks of one queue."""

    CSS_PATH = "app.tcss"
    TITLE = "fairque"
    MODES = {
        "overview": OverviewScreen,
        "dlq": DLQScreen,
        "workers": WorkersScreen,
        "schedules": SchedulesScreen,
        "alerts": AlertsScreen,
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
        Binding("b", "switch_mode('bench')", "Bench"),
        Binding("ctrl+s", "screenshot", "Screenshot (SVG)", show=False),
    ]
    # Screen names for help and the command palette, in key order.
    VIEWS = [
        ("1", "overview", "Overview: every user's queue"),
        ("2", "dlq", "DLQ: dead tasks, grouped, requeue or delete"),
        ("3", "workers", "Workers: heartbeats, in flight, stolen"),
        ("4", "schedules", "Schedules: next and last runs"),
        ("5", "alerts", "Alerts: active and recently cleared"),
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
        self.source = source
        self.refresh_seconds = refresh_seconds
        self.clock = clock  # frozen in snapshot tests
        self.timer = timer  # ditto: fetch durations read 0 ms there
        self.state = AppState(queue=source.queue, label=source.label)

    # -- what the screens report ---------------------------------------------------------------

    def _changed(self) -> None:
        self.status_changed += 1

    def fetched(self, fetch_ms: float) -> None:
        self.state.fetch_ms = fetch_ms
        self.state.updated_at = self.clock()
        self.state.connection_error = None
        self._changed()

    def connection_lost(self, error: str) -> None:
        self.state.connection_error = error
        self._changed()

    def server_seen(self, name: str, version: str) -> None:
        if (self.state.server, self.state.version) != (name, version):
            self.state.server, self.state.version = name, version
            self._changed()

    def alerts_seen(self, alerts: Iterable[Alert]) -> None:
        """Remember alerts that stopped firing, for the Alerts screen's "recently cleared"."""
        live = {(a.rule, a.subject): a for a in alerts}
        now = self.clock()
        for key, alert in self.state.live_alerts.items():
            if key not in live:
                self.state.cleared_alerts = [
                    (a, at) for a, at in self.state.cleared_alerts if (a.rule, a.subject) != key
                ]
                self.state.cleared_alerts.insert(0, (alert, now))
        del self.state.cleared_alerts[RECENT_ALERTS:]
        self.state.live_alerts = live

    # -- navigation ------------------------------------------------------------------------------

    def action_go_back(self) -> None:
        """esc: close the pushed screen, else go back to the overview."""
        if len(self.screen_stack) > 1:
            self.pop_screen()
        elif self.current_mode != "overview":
            self.switch_mode("overview")

    def action_help(self) -> None:
        """Every key of this screen and of the app (the tables' own cursor keys summarised)."""
        screen = self.screen
        bindings: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        for active in screen.active_bindings.values():
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
