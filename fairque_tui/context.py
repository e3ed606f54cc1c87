"""What the App hands down to every screen and widget: the data source, the clocks, the
refresh period and the shared state the status bar shows. A leaf module: the App and the
screens both import it, neither imports the other (screens report up with messages)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fairque.monitoring.models import Alert
from fairque_tui.source import DataSource

RECENT_ALERTS = 20


def utc_now() -> datetime:
    return datetime.now(UTC)


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

    def alerts_seen(self, alerts: Iterable[Alert], now: datetime) -> None:
        """Remember alerts that stopped firing, for the Alerts screen's "recently cleared"."""
        live = {(a.rule, a.subject): a for a in alerts}
        for key, alert in self.live_alerts.items():
            if key not in live:
                self.cleared_alerts = [
                    (a, at) for a, at in self.cleared_alerts if (a.rule, a.subject) != key
                ]
                self.cleared_alerts.insert(0, (alert, now))
        del self.cleared_alerts[RECENT_ALERTS:]
        self.live_alerts = live


@dataclass
class TuiContext:
    """Passed to each screen and status widget when it is made."""

    source: DataSource
    refresh_seconds: float = 2.0
    clock: Callable[[], datetime] = utc_now  # frozen in snapshot tests
    timer: Callable[[], float] = time.perf_counter  # ditto: fetch durations read 0 ms there
    state: AppState = field(init=False)

    def __post_init__(self) -> None:
        self.state = AppState(queue=self.source.queue, label=self.source.label)
