"""The line at the top of every screen, and the red banner shown while the server is away."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.widgets import Static

from fairque_tui import format as fmt

if TYPE_CHECKING:
    from fairque_tui.app import FairqueApp


class StatusBar(Static):
    """Queue, server, version, how long the last fetch took and how old the data is."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $primary-background;
        color: $text;
        padding: 0 1;
    }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "status_changed", self._redraw)
        self.set_interval(1.0, self._redraw)  # the data's age moves on by itself

    def _redraw(self, _: object = None) -> None:
        app = cast("FairqueApp", self.app)
        s = app.state
        parts = [
            f"[b]fairque[/b] {s.queue}",
            f"{s.server or 'server'} {s.version or ''}".strip() + f" @ {s.label}",
        ]
        if s.updated_at is not None:
            parts.append(f"fetched in {s.fetch_ms:.0f} ms, {fmt.since(s.updated_at, app.clock())}")
        else:
            parts.append("fetching…")
        if app.source.read_only:
            parts.append("[reverse] READ-ONLY [/reverse]")
        self.update(" │ ".join(parts))


class Banner(Static):
    """Shown while fetches fail; hidden again by the first fetch that succeeds."""

    DEFAULT_CSS = """
    Banner {
        height: auto;
        background: $error;
        color: $text;
        padding: 0 1;
        display: none;
    }
    Banner.-shown {
        display: block;
    }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "status_changed", self._redraw)

    def _redraw(self, _: object = None) -> None:
        app = cast("FairqueApp", self.app)
        error = app.state.connection_error
        self.set_class(error is not None, "-shown")
        if error is not None:
            self.update(
                f"connection lost: {fmt.one_line(error, 200)} — retrying every "
                f"{app.refresh_seconds:g} s"
            )
