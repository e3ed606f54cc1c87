"""The line at the top of every screen, and the red banner shown while the server is away."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from fairque_tui import format as fmt
from fairque_tui.context import TuiContext


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

    def __init__(self, ctx: TuiContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx

    def on_mount(self) -> None:
        self.watch(self.app, "status_changed", self._redraw)
        self.set_interval(1.0, self._redraw)  # the data's age moves on by itself

    def _redraw(self, _: object = None) -> None:
        s, ctx = self.ctx.state, self.ctx
        parts = [
            f"[b]fairque[/b] {s.queue}",
            f"{s.server or 'server'} {s.version or ''}".strip() + f" @ {s.label}",
        ]
        if s.updated_at is not None:
            parts.append(f"fetched in {s.fetch_ms:.0f} ms, {fmt.since(s.updated_at, ctx.clock())}")
        else:
            parts.append("fetching…")
        if ctx.source.read_only:
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

    def __init__(self, ctx: TuiContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx

    def on_mount(self) -> None:
        self.watch(self.app, "status_changed", self._redraw)

    def _redraw(self, _: object = None) -> None:
        error = self.ctx.state.connection_error
        self.set_class(error is not None, "-shown")
        if error is not None:
            self.update(
                f"connection lost: {fmt.one_line(error, 200)} — retrying every "
                f"{self.ctx.refresh_seconds:g} s"
            )
