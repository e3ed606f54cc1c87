"""Filtering and picking rows of a screen's main table, as kiq and k9s do: ``/`` filters
(esc clears), ``x`` selects the row under the cursor, and an action acts on the selected
rows (or, when none are, on the row under the cursor). Shift with an action's key acts
without asking first (``D`` drains, ``C`` cancels); ``?`` lists them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from textual.binding import Binding
from textual.widgets import DataTable, Input

from fairque.monitoring.models import AdminResult
from fairque_tui.screens.base import LiveScreen
from fairque_tui.widgets.tables import cursor_key

T = TypeVar("T")

PICKING = [
    Binding("slash", "filter", "Filter"),
    Binding("x", "select", "Select"),
    Binding("escape", "clear_or_back", "Clear/back", show=False),
]
SELECTED = "✓"


class PickingScreen(LiveScreen[T]):
    """A data screen whose main table (``TABLE``, with a ``sel`` column) can be filtered and
    picked from. Screens draw their rows in ``redraw`` (from the data they last fetched,
    keeping the rows ``shown`` lets through and marking the ``selected`` ones)."""

    FILTER_HINT = "filter (esc clears)"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.filter_text = ""
        self.selected: set[str] = set()

    def filter_box(self) -> Input:
        """The filter's input, hidden until ``/`` (yield it from ``compose``)."""
        box = Input(placeholder=self.FILTER_HINT, id="filter")
        box.display = False
        return box

    def redraw(self) -> None:
        raise NotImplementedError

    def shown(self, *texts: str | None) -> bool:
        """Whether a row with these texts passes the filter (case-insensitive, any text)."""
        needle = self.filter_text.lower()
        return not needle or any(needle in (t or "").lower() for t in texts)

    def mark(self, key: str) -> str:
        return SELECTED if key in self.selected else ""

    def keep_selected(self, keys: set[str]) -> None:
        """Forget selected rows that are gone (a refresh that no longer lists them)."""
        self.selected &= keys

    def caption_suffix(self) -> str:
        parts = []
        if self.filter_text:
            parts.append(f"filter: {self.filter_text!r}")
        if self.selected:
            parts.append(f"selected {len(self.selected)}")
        return (" · " + " · ".join(parts)) if parts else ""

    # -- keys ----------------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter_text = event.value.strip()
            self.redraw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one(self.TABLE, DataTable).focus()

    def action_clear_or_back(self) -> None:
        """esc: clear the filter, else the selection, else go back."""
        box = self.query_one("#filter", Input)
        if box.display or self.filter_text:
            box.value = ""
            box.display = False
            self.filter_text = ""
            self.redraw()
            self.query_one(self.TABLE, DataTable).focus()
        elif self.selected:
            self.selected.clear()
            self.redraw()
        else:
            self.app.action_go_back()  # type: ignore[attr-defined]

    def action_select(self) -> None:
        table = self.query_one(self.TABLE, DataTable)
        key = cursor_key(table)
        if key is None:
            return
        self.selected ^= {key}
        table.update_cell(key, "sel", self.mark(key))
        table.action_cursor_down()
        self.redraw()  # the caption counts the selection

    def picked(self) -> list[str]:
        """What an action acts on: the selected rows, else the row under the cursor."""
        if self.selected:
            return sorted(self.selected)
        key = cursor_key(self.query_one(self.TABLE, DataTable))
        return [key] if key is not None else []

    def act_on_each(
        self,
        verb: str,
        keys: Sequence[str],
        call: Callable[[str], Awaitable[AdminResult]],
        question: str | None,
    ) -> None:
        """Run ``call`` for each key (after ``question`` unless None), as one change: the
        notification adds their results up; the selection is cleared."""

        async def every() -> AdminResult:
            touched = matched = 0
            for key in keys:
                result = await call(key)
                touched += result.touched
                matched += result.matched
            return AdminResult(action=verb, matched=matched, touched=touched, dry_run=False)

        if not keys:
            self.notify("nothing under the cursor or selected")
            return
        label = keys[0] if len(keys) == 1 else f"{len(keys)} selected"
        self.selected.clear()
        self.mutate(f"{verb} {label}", every, question)
