"""Every screen rendered from fixed data with a frozen clock, at 80x24 and 160x48.

Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the SVGs in ``__snapshots__/`` before committing them."""

from __future__ import annotations

import pytest

from fairque_tui.app import FairqueApp
from fairque_tui.screens.base import LiveScreen
from tests.tui.fixed import FixedSource, frozen_clock, frozen_timer

SIZES = [(80, 24), (160, 48)]

SCREENS = {
    "overview": [],
    "user": ["enter"],
    "dlq": ["2"],
    "dlq_by_error": ["2", "g"],
    "workers": ["3"],
    "schedules": ["4"],
    "alerts": ["5"],
    "bench": ["b"],
    "help": ["question_mark"],
    "task": ["t", *"report-42", "enter"],
    "tenants": ["6"],
    "tenant": ["6", "enter"],
    "tail": ["7"],
    "selected_users": ["x", "x"],  # two users picked: the ✓ column and the caption
}


def make_app() -> FairqueApp:
    return FairqueApp(FixedSource(), refresh_seconds=0, clock=frozen_clock, timer=frozen_timer)


async def settle(pilot, keys) -> None:  # type: ignore[no-untyped-def]
    for key in keys:
        await pilot.press(key)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    screen = pilot.app.screen
    if isinstance(screen, LiveScreen):
        for _ in range(100):
            if screen.loaded:
                break
            await pilot.pause(0.02)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare, screen, size):
    keys = SCREENS[screen]
    assert snap_compare(make_app(), terminal_size=size, run_before=lambda p: settle(p, keys))


def test_switching_screens_leaves_nothing_of_the_last_one(snap_compare):
    """Overview -> a user (sparkline) -> benchmarks (bar chart) -> a DLQ page longer than the
    140x42 terminal: the DLQ screen shows none of the block glyphs the other screens drew, and
    its scrollbar none either (Textual draws the thumb's ends with "▇▇"-style partial blocks,
    which terminals render as a stray glyph at the right edge; fairque's scrollbars snap the
    thumb to whole cells)."""

    async def switch(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot, ["enter", "b"])
        bench = pilot.app.screen
        bench._progress("throughput", "measuring", ("push", 3000.0))
        bench._progress("throughput", "measuring", ("pop", 1500.0))
        await settle(pilot, ["2"])
        svg = pilot.app.export_screenshot()
        assert type(pilot.app.screen).__name__ == "DLQScreen"
        assert not any(glyph in svg for glyph in "▁▂▃▄▅▆▇█")

    app = FairqueApp(FixedSource(dead=120), refresh_seconds=0, clock=frozen_clock,
                     timer=frozen_timer)  # fmt: skip
    assert snap_compare(app, terminal_size=(140, 42), run_before=switch)
