"""Small pieces every Inspector read shares: the windows it looks at, command calls, and
turning the server's replies (integers, millisecond times, TIME) into Python values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fairque.queue.ops import CommandCall

MINUTES = 60
SHARE_WINDOW = 5  # minutes behind served share, failure rate, pushes
PRIORITIES = (6, 5, 4, 3, 2, 1)


def _c(*args: str | int | float) -> CommandCall:
    return CommandCall(args)


def _i(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _ts(ms: Any) -> datetime | None:
    value = _i(ms)
    return datetime.fromtimestamp(value / 1000, UTC) if value else None


def server_now(reply: list[str]) -> tuple[datetime, int]:
    """The server's TIME reply as (datetime, minute number)."""
    seconds = int(reply[0]) + int(reply[1]) / 1e6
    return datetime.fromtimestamp(seconds, UTC), int(seconds // 60)
