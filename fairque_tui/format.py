"""How numbers, ages and times read in the TUI (short, right-aligned friendly)."""

from __future__ import annotations

from datetime import datetime

from fairque.monitoring.readable import age, count, ms, share

__all__ = ["age", "clock", "count", "ms", "one_line", "share", "since", "when"]


def since(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    return age(max((now - moment).total_seconds(), 0)) + " ago"


def clock(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%H:%M:%S")


def one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def when(moment: datetime | None) -> str:
    """A date and time to the second (UTC as stored), or "-"."""
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")
