"""How values read in a table cell: counts with separators, "-" for nothing, short ages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def ms(value: float | None) -> str:
    """Milliseconds, short: 12ms, 1.5s, 2.0m."""
    if value is None:
        return "-"
    if value < 1000:
        return f"{value:.0f}ms"
    return age(value / 1000)


def share(value: float) -> str:
    """A share as a percentage, with a decimal below 10%: 0.4%, 8.3%, 42%."""
    pct = value * 100
    return f"{pct:.1f}%" if 0 < pct < 10 else f"{pct:.0f}%"
