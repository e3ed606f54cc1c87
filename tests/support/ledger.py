"""The external ledger of fault tests: who ran what, when, written by the handlers themselves.

``tally`` turns it into the three figures docs/reliability.md asks of every fault test: lost
(expected, never completed), duplicated (completed more than once) and phantom (completed but
never pushed). ``report`` records them for the summary printed at the end of the run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

FIGURES: list[str] = []  # printed by tests/reliability/conftest.py at the end of the session


@dataclass(frozen=True)
class Row:
    event: str  # "start" or "done"
    task_id: str
    pid: int
    at: float


def read_ledger(path: str | Path) -> list[Row]:
    """Every complete line: a test reads while workers append, so the last line may still be
    half written (no newline yet); it is left for the next read."""
    try:
        with open(path) as fh:
            text = fh.read()
    except FileNotFoundError:
        return []
    lines = text.split("\n")[:-1]  # the part after the last newline is not a line yet
    parts = [line.split() for line in lines if line.strip()]
    return [Row(p[0], p[1], int(p[2]), float(p[3])) for p in parts]


def events(path: str | Path, event: str, pid: int | None = None) -> list[str]:
    """Task ids of one kind of event, in ledger order (optionally of one process)."""
    return [r.task_id for r in read_ledger(path) if r.event == event and pid in (None, r.pid)]


@dataclass
class Tally:
    lost: set[str] = field(default_factory=set)
    duplicated: set[str] = field(default_factory=set)
    phantom: set[str] = field(default_factory=set)

    def line(self) -> str:
        return (
            f"lost {len(self.lost)}, duplicated {len(self.duplicated)}, phantom {len(self.phantom)}"
        )


def tally(done: Iterable[str], expected: Iterable[str]) -> Tally:
    """Compare completed runs with the task ids that were pushed (and acknowledged)."""
    runs = Counter(done)
    want = set(expected)
    return Tally(
        lost=want - set(runs),
        duplicated={t for t, n in runs.items() if n > 1},
        phantom=set(runs) - want,
    )


def report(name: str, t: Tally, extra: str = "") -> None:
    FIGURES.append(f"{name}: {t.line()}{'; ' + extra if extra else ''}")
