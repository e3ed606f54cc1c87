"""The CLI's tables at 80 and 160 columns, from fixed data: the most useful columns fit a
narrow terminal, every column shows on a wide one or with --wide, and no cell is cut to "…".

Update after an intended change with ``pytest tests/cli --snapshot-update`` and read the
``.ambr`` files before committing them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from fairque.cli import output
from fairque.cli.admin_cmds import print_dlq
from fairque.cli.context import CliContext
from fairque.cli.inspect_cmds import print_info, print_users
from fairque.monitoring.models import UserPage
from tests.tui.fixed import ALERTS, DLQ, NOW, OVERVIEW, ROWS, WORKERS

WIDTHS = [80, 160]

# A real task id is 32 hex characters; errors are long sentences.
LONG_DLQ = [
    e.model_copy(update={"task_id": f"{i:032x}", "error": e.error + " " + "detail " * 12})
    for i, e in enumerate(DLQ[:4])
]

RENDERERS: dict[str, Callable[[], None]] = {
    "info": lambda: print_info(OVERVIEW, WORKERS, ALERTS, "redis://127.0.0.1:6379/0"),
    "users": lambda: print_users(UserPage(rows=ROWS, total_users=len(ROWS), offset=0)),
    "dlq": lambda: print_dlq(DLQ[:6], NOW),
    "dlq_long": lambda: print_dlq(LONG_DLQ, NOW),
}


@pytest.fixture
def width(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    def set_width(columns: int) -> None:
        monkeypatch.setattr(output.console, "_width", columns)

    yield set_width


def render(name: str, wide: bool = False) -> str:
    return render_with(RENDERERS[name], wide)


def render_with(renderer: Callable[[], None], wide: bool = False) -> str:
    import click

    from fairque.cli.main import cli

    obj = CliContext(None, None, None, False, wide=wide)
    with click.Context(cli, obj=obj), output.console.capture() as captured:
        renderer()
    return captured.get()


@pytest.mark.parametrize("columns", WIDTHS)
@pytest.mark.parametrize("name", list(RENDERERS))
def test_table(snapshot, width, name, columns):  # type: ignore[no-untyped-def]
    width(columns)
    text = render(name)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= columns
    assert text == snapshot


def test_users_at_80_columns_keep_the_useful_columns_and_name_the_rest(width):  # type: ignore[no-untyped-def]
    width(80)
    text = render("users")
    header = next(line for line in text.splitlines() if line.startswith("user "))
    assert header.split() == ["user", "ready", "in", "flight", "oldest", "p95", "wait", "served",
                              "fair", "state"]  # fmt: skip
    assert "--wide for weight, crit, p5, p4, p3, p2, p1, p50 wait" in " ".join(text.split())


def test_wide_shows_every_column_whatever_the_terminal(width):  # type: ignore[no-untyped-def]
    width(80)
    text = render("users", wide=True)
    header = next(line for line in text.splitlines() if line.startswith("user "))
    for column in ("weight", "crit", "p5", "p1", "p50 wait", "p95 wait", "served", "fair"):
        assert column in header
    assert "--wide" not in text
    assert max(len(line) for line in text.splitlines()) > 80
    assert "…" not in text


@pytest.mark.parametrize(
    ("page", "title"),
    [
        (UserPage(rows=[], total_users=0, offset=0), "Users: none with work"),
        (UserPage(rows=[], total_users=12, offset=50), "Users: none past 50 of 12 with work"),
        (UserPage(rows=ROWS[2:5], total_users=12, offset=2), "Users 3-5 of 12 with work"),
    ],
)
def test_the_users_title_counts_the_rows_shown(width, page, title):  # type: ignore[no-untyped-def]
    width(160)
    assert render_with(lambda: print_users(page)).startswith(title)
