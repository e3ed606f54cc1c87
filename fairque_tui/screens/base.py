"""What every data screen shares: fetching in a worker, the refresh loop, guarded mutations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar, Generic, TypeVar

from textual import work
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable

from fairque.core.exceptions import FairQueueError
from fairque.monitoring.models import AdminResult
from fairque_tui.context import TuiContext
from fairque_tui.source import DataSource
from fairque_tui.widgets.modals import ConfirmModal

T = TypeVar("T")


class LiveScreen(Screen[None], Generic[T]):
    """A screen whose data is fetched by a Textual worker (a coroutine on the app's loop).

    The next fetch is scheduled when the last one finishes, so a slow server never piles
    requests up; a failed fetch raises the banner and the loop goes on, so a lost connection
    recovers by itself. Screens implement ``load`` (a coroutine) and ``show``.
    What the App tracks (fetch times, a lost connection, the server) goes up as messages.
    """

    class Fetched(Message):
        """A fetch succeeded and took ``fetch_ms``."""

        def __init__(self, fetch_ms: float) -> None:
            super().__init__()
            self.fetch_ms = fetch_ms

    class FetchFailed(Message):
        """A fetch could not reach the server."""

        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    class ServerSeen(Message):
        """The server answered as ``name`` ``version``."""

        def __init__(self, name: str, version: str) -> None:
            super().__init__()
            self.name = name
            self.version = version

    # Every data screen moves its table with j and k (its own BINDINGS add to these).
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]
    MUTATING: ClassVar[frozenset[str]] = frozenset()
    TABLE: ClassVar[str] = "DataTable"  # the table j and k move in

    def __init__(self, ctx: TuiContext) -> None:
        super().__init__()
        self.ctx = ctx
        self._timer: Timer | None = None
        self.loaded = False  # the first fetch has been shown (tests wait on it)

    @property
    def source(self) -> DataSource:
        return self.ctx.source

    async def load(self) -> T:
        raise NotImplementedError

    def show(self, data: T) -> None:
        raise NotImplementedError

    # -- the fetch loop ------------------------------------------------------------------------

    def on_screen_resume(self) -> None:
        self.refresh_now()

    def refresh_now(self) -> None:
        """Fetch at once (after a key press or a mutation), restarting the loop."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._fetch()

    @work(exclusive=True, group="fetch")
    async def _fetch(self) -> None:
        started = self.ctx.timer()
        try:
            data = await self.load()
        except FairQueueError as exc:
            self.post_message(self.FetchFailed(str(exc)))
        else:
            # Shown between the screen's own events, not from inside the worker: a table
            # rebuilt from a worker kept its old column widths (the DLQ's group view).
            self.call_next(self._loaded, data, (self.ctx.timer() - started) * 1000)
        self._schedule_next()

    def _loaded(self, data: T, fetch_ms: float) -> None:
        if not self.is_attached:
            return  # closed while the fetch ran: nothing to draw on
        try:
            self.show(data)
        except NoMatches:
            # Its widgets are not all mounted yet (a fetch that finished first, seen on a
            # loaded machine): fetch again in a moment (the refresh loop may be off).
            self.set_timer(0.05, self.refresh_now)
            return
        self.post_message(self.Fetched(fetch_ms))
        self.loaded = True

    def next_fetch_in(self) -> float:
        """Seconds until the next fetch (the app's refresh; 0 or less: no refresh loop)."""
        return self.ctx.refresh_seconds

    def _schedule_next(self) -> None:
        delay = self.next_fetch_in()
        if self.ctx.refresh_seconds > 0 and self.is_attached:
            self._timer = self.set_timer(delay, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self.is_current:
            self._fetch()
        # Not current: nothing to draw; on_screen_resume fetches when it comes back.

    def action_cursor_down(self) -> None:
        self.query_one(self.TABLE, DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(self.TABLE, DataTable).action_cursor_up()

    # -- mutations -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # --read-only hides every mutating binding (the action itself refuses too).
        return not (action in self.MUTATING and self.source.read_only)

    def mutate(
        self, what: str, call: Callable[[], Awaitable[AdminResult]], question: str | None
    ) -> None:
        """Run an Admin change in a worker, after a confirmation if ``question``."""
        if self.source.read_only:
            self.notify(f"read-only: {what} refused", severity="error")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._mutate(what, call)
            else:
                self.notify(f"{what}: cancelled, nothing changed")

        if question is None:
            self._mutate(what, call)
        else:
            self.app.push_screen(ConfirmModal(question), answered)

    @work(group="mutate")
    async def _mutate(self, what: str, call: Callable[[], Awaitable[AdminResult]]) -> None:
        try:
            result = await call()
        except FairQueueError as exc:
            self.notify(f"{what} failed: {exc}", severity="error")
        else:
            self._mutated(what, result)

    def _mutated(self, what: str, result: AdminResult) -> None:
        self.notify(f"{what}: {result.touched} of {result.matched}")
        self.refresh_now()


# Paging through a long table: ] and [.
PAGING = [
    Binding("right_square_bracket", "page(1)", "Next page"),
    Binding("left_square_bracket", "page(-1)", "Prev page"),
]
