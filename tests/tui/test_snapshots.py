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
