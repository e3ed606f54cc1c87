"""How values read in a table cell (figures as ``monitoring.readable`` writes them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fairque.monitoring.readable import age, ms, share

__all__ = ["age", "fmt", "ms", "share"]


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
    if isinstance(value, tuple | list):
        return ", ".join(fmt(v) for v in value) or "-"
    return str(value)
