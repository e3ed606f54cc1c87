"""How figures read for people, the same in the CLI and the TUI: counts with separators,
short ages (3s, 4m05s, 2h10m), waits in ms or s, shares in percent; "-" for nothing."""

from __future__ import annotations

from typing import Any


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


def share(value: float) -> str:
    """A share in percent, with a decimal below 10% (0.4%, 8.3%, 42%); "-" for none."""
    if not value:
        return "-"
    pct = value * 100
    return f"{pct:.1f}%" if pct < 10 else f"{pct:.0f}%"


_ENDED = ("completed", "dead", "canceled")


def dependency_lines(ex: Any) -> list[str]:
    """A task's place in its dependency graph as lines of text (an :class:`Explanation`):
    its parents with their states and how many have ended (a group's progress, for a chord's
    callback), then the tasks that wait for it."""
    lines: list[str] = []
    if ex.parents:
        states = ex.parent_states
        ended = sum(1 for s in states.values() if s in _ENDED)
        shown = f" (first {len(states)})" if len(states) < len(ex.parents) else ""
        lines.append(f"parents: {ended} of {len(states)} ended{shown}")
        lines += [f"  ├ {pid}  {state}" for pid, state in states.items()]
    if ex.dependents:
        states = ex.dependent_states
        more = f", first {len(states)} shown" if len(states) < ex.dependents else ""
        lines.append(f"dependents: {ex.dependents}{more}")
        lines += [f"  └ {kid}  {state}" for kid, state in states.items()]
    return lines
