"""Driving the TUI with Textual's Pilot against a real server: wait for a screen or a
condition, read a table's rows, make the app over a live source."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable

from fairque import FairQueueConfig, TaskQueue
from fairque_tui.app import FairqueApp
from fairque_tui.screens.base import LiveScreen
from fairque_tui.source import LiveSource

SIZE = (120, 36)


async def until(pilot: Pilot[Any], predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Let the app run until ``predicate()`` is truthy; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if value := predicate():
            return value
        await pilot.pause(0.05)
    raise AssertionError("the TUI did not get there in time")


def rows(app: FairqueApp, selector: str = "DataTable") -> list[str]:
    table = app.screen.query_one(selector, DataTable)
    return [str(r.key.value) for r in table.ordered_rows]


async def loaded(pilot: Pilot[Any], kind: type) -> Any:
    return await until(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, kind)
            and (not isinstance(pilot.app.screen, LiveScreen) or pilot.app.screen.loaded)
            and pilot.app.screen
        ),
    )


def make_app(config: FairQueueConfig, read_only: bool = False) -> FairqueApp:
    return FairqueApp(LiveSource(config, read_only=read_only), refresh_seconds=0.3)


def queue_of(config: FairQueueConfig) -> TaskQueue:
    return TaskQueue(config).open()
