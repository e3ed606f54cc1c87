"""Tables that fit the terminal: the most useful columns on a narrow one, all with ``--wide``.

A cell is never cut to ``…``. Each column has a rank: rank 0 columns always show; on a
terminal too narrow for every column, the highest ranks are left out (the caption names them
and ``--wide`` brings them back, as ``kubectl -o wide`` does). Long free text (error messages,
worker lists) wraps inside its column instead of widening the table. ``--wide`` prints every
column at its natural width, wider than the terminal if it must be.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from fairque.cli.format import fmt

MIN_WRAP = 16  # a wrapping column keeps at least this many characters per line...
SQUEEZED_WRAP = 6  # ...unless the columns that always show cannot fit otherwise


@dataclass(frozen=True)
class Col:
    name: str
    rank: int = 0  # 0: always shown; the highest ranks go first on a narrow terminal
    wrap: bool = False  # long text: wraps inside the column rather than widening the table
    left: bool = False  # text (left) rather than a figure (right)


def _as_col(c: Col | str, first: bool) -> Col:
    """A bare name is a figure (right-aligned), except in the first column, which names the row."""
    return c if isinstance(c, Col) else Col(c, left=first)


def _build(cols: Sequence[Col], cells: list[list[str]], caption: str | None,
           wrap_min: int = MIN_WRAP) -> Table:  # fmt: skip
    t = Table(
        caption=caption, caption_justify="left",
        box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
    )  # fmt: skip
    for i, c in enumerate(cols):
        natural = max([len(c.name), *(len(row[i]) for row in cells)])
        t.add_column(
            c.name,
            justify="left" if c.left else "right",
            no_wrap=not c.wrap,
            overflow="fold",  # if a cell must be narrower than its text, break it, never "…"
            min_width=min(natural, wrap_min) if c.wrap else natural,
        )
    for row in cells:
        t.add_row(*(Text(cell) for cell in row))  # user ids are text, never markup
    return t


def fit(
    console: Console,
    columns: Sequence[Col | str],
    rows: Iterable[Sequence[Any]],
    *,
    wide: bool = False,
    width: int | None = None,
) -> tuple[Table, int]:
    """The table to print and the width to print it at (its title is printed above it, wrapped
    to the terminal rather than to the table)."""
    cols = [_as_col(c, i == 0) for i, c in enumerate(columns)]
    cells = [[fmt(v) for v in row] for row in rows]
    width = width or console.width
    keep = list(range(len(cols)))

    def table_of(indices: list[int], caption: str | None = None, wrap_min: int = MIN_WRAP
                 ) -> Table:  # fmt: skip
        return _build([cols[i] for i in indices], [[r[i] for i in indices] for r in cells],
                      caption, wrap_min)  # fmt: skip

    def minimum(indices: list[int]) -> int:
        options = console.options.update_width(10_000)
        return Measurement.get(console, options, table_of(indices)).minimum

    if wide:  # every column at its natural width: the widest cell or header, no wrapping
        naturals = [max([len(c.name), *(len(r[i]) for r in cells)]) for i, c in enumerate(cols)]
        gaps = 3 * (len(cols) - 1)  # " " + divider + " " between columns, no outer edge
        wide_cols = [Col(c.name, c.rank, wrap=False, left=c.left) for c in cols]
        return _build(wide_cols, cells, None), max(width, sum(naturals) + gaps)
    while minimum(keep) > width:
        worst = max(cols[i].rank for i in keep)
        if worst == 0:
            break
        # Leave out the last column of the highest rank first.
        drop = max(i for i in keep if cols[i].rank == worst)
        keep.remove(drop)
    left_out = [cols[i].name for i in range(len(cols)) if i not in keep]
    caption = f"--wide for {', '.join(left_out)}" if left_out else None
    squeeze = minimum(keep) > width  # long names: fold them onto more lines
    return table_of(keep, caption, SQUEEZED_WRAP if squeeze else MIN_WRAP), width
