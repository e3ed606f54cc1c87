"""Popping tasks one at a time in tests that check the order the scheduler picks."""

from __future__ import annotations

from typing import Any


def pop_n(q: Any, n: int, complete: bool = True) -> list[Any]:
    """Pop ``n`` tasks (failing the test if the queue runs dry), completing each unless told
    not to (then they stay leased)."""
    out = []
    for _ in range(n):
        t = q.pop()
        assert t is not None, f"the queue ran dry after {len(out)} of {n} pops"
        out.append(t)
        if complete:
            q.complete(t)
    return out
