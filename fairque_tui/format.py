"""How numbers, ages and times read in the TUI (short, right-aligned friendly)."""

from __future__ import annotations

from datetime import datetime


def count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def age(seconds: float | None) -> str:
    """3s, 4m05s, 2h10m, 3d4h."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{seconds:.0f}s" if seconds >= 1 or seconds == 0 else f"{seconds:.1f}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600}h"


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.1f}s" if value >= 10_000 else f"{value:.0f}ms"


def share(served: float, fair: float) -> str:
    """Served share of the last 5 minutes against the fair share, in percent. A user with no
    backlog claims no fair share ("-"): it is served as soon as it pushes."""
    if not fair and not served:
        return "-"
    got = f"{served * 100:.1f}" if 0 < served < 0.1 else f"{served * 100:.0f}"
    return f"{got}/{fair * 100:.0f}%" if fair else f"{got}%/-"


def since(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    return age(max((now - moment).total_seconds(), 0)) + " ago"


def clock(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%H:%M:%S")


def one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
