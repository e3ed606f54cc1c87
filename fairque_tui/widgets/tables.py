"""DataTable helpers: replace rows in place, keeping the cursor on the same row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.widgets import DataTable


def set_columns(table: DataTable[Any], columns: Sequence[tuple[str, str]]) -> bool:
    """(key, label) columns; rebuilds the table only when they changed. True if rebuilt."""
    wanted = [key for key, _ in columns]
    if [str(c.value) for c in table.columns] == wanted:
        return False
    table.clear(columns=True)
    for key, label in columns:
        table.add_column(label, key=key)
    return True


def cursor_key(table: DataTable[Any]) -> str | None:
    """The key of the row under the cursor, if any."""
    if not table.row_count:
        return None
    row = min(max(table.cursor_row, 0), table.row_count - 1)
    key = table.ordered_rows[row].key.value
    return None if key is None else str(key)


def sync_rows(table: DataTable[Any], rows: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """Make the table show ``rows`` (key, cells) in this order.

    The first cell of each row must read as its key. Rows already there are updated in place
    and the cursor stays on the row it was on (by key), so a refresh never makes the operator
    lose their place."""
    current = cursor_key(table)
    wanted = {key for key, _ in rows}
    for row_key in list(table.rows):
        if row_key.value not in wanted:
            table.remove_row(row_key)
    present = {k.value for k in table.rows}
    column_keys = [c.key for c in table.ordered_columns]
    for key, cells in rows:
        if key in present:
            for column_key, value in zip(column_keys, cells, strict=True):
                table.update_cell(key, column_key, value)
        else:
            table.add_row(*cells, key=key)
    if table.row_count > 1:
        order = {key: i for i, (key, _) in enumerate(rows)}
        table.sort(column_keys[0], key=lambda first: order.get(str(first), len(order)))
    if current is not None and current in wanted:
        table.move_cursor(row=table.get_row_index(current), scroll=False)
