"""How commands print: tables for people, one JSON document with ``--json``, errors on stderr,
and the confirmations destructive commands ask for."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from typing import Any

import click
from pydantic import BaseModel
from rich.console import Console
from rich.progress import Progress
from rich.text import Text

from fairque.cli.context import CliContext
from fairque.cli.refusals import Aborted, SafetyRefusal
from fairque.cli.tables import Col, fit

console = Console()
errors = Console(stderr=True)


def interactive() -> bool:
    """True when a person can answer a confirmation (tests replace this)."""
    return sys.stdin.isatty()


def confirm(question: str, yes: bool) -> None:
    """Go on with ``--yes``; ask on a terminal; refuse without one."""
    if yes:
        return
    if not interactive():
        raise SafetyRefusal(f"{question} -- not a terminal: pass --yes to confirm")
    if not click.confirm(question, default=False):
        raise Aborted("aborted: nothing was changed")


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value


def emit_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), default=str))


def show_table(
    title: str | None, columns: Sequence[Col | str], rows: Iterable[Sequence[Any]]
) -> None:
    """Print a table that fits the terminal (every column with ``--wide``)."""
    ctx = click.get_current_context(silent=True)
    cli = ctx.find_object(CliContext) if ctx is not None else None
    t, width = fit(console, columns, rows, wide=bool(cli and cli.wide))
    if title:
        console.print(Text(title, style="bold"))
    # Console.print never renders wider than the console, so widen it for this table only
    # (rich keeps an explicit width in ``_width``; None means "ask the terminal").
    saved = console._width
    console.width = width
    try:
        console.print(t, crop=False)
    finally:
        console._width = saved


@contextmanager
def progress_bar(label: str, enabled: bool) -> Any:
    """A callback (done, total) drawing a progress bar on a terminal, else doing nothing."""
    if not enabled or not sys.stdout.isatty():
        yield lambda done, total: None
        return
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def parse_duration(text: str) -> float:
    """``90``, ``45s``, ``30m``, ``12h``, ``7d`` -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    t = text.strip().lower()
    try:
        value = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a duration like 45s, 30m, 12h or 7d") from None
    if value < 0:
        raise click.BadParameter("a duration cannot be negative")
    return value


Renderer = Callable[[Any], None]


class StopFlag:
    """Set by a signal handler, polled by a loop (no locks: safe inside a signal handler)."""

    def __init__(self) -> None:
        self.is_set = False

    def set(self, *_: object) -> None:
        self.is_set = True

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` in short steps; True once the flag is set."""
        deadline = time.monotonic() + seconds
        while not self.is_set and time.monotonic() < deadline:
            time.sleep(min(0.05, seconds))
        return self.is_set
