"""``fairque health``: exit 0 when a worker's heartbeat is fresh, 1 otherwise (exec probes)."""

from __future__ import annotations

import sys

import click

from fairque.cli.context import CliContext, pass_cli
from fairque.cli.output import console, emit_json
from fairque.monitoring import Inspector


@click.command()
@click.option("--worker-id", help="This worker (default: every registered worker).")
@click.option(
    "--max-age",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds since the last heartbeat that still count.",
)
@pass_cli
def health(cli: CliContext, worker_id: str | None, max_age: float) -> None:
    """Exit 0 if the worker's (or every worker's) heartbeat is at most --max-age old, else 1.

    For container exec probes and scripts; no worker at all is unhealthy too."""
    with Inspector(cli.config()) as ins:
        now = ins.overview().fetched_at
        workers = ins.workers()
    if worker_id is not None:
        workers = [w for w in workers if w.worker_id == worker_id]
    ages = {
        w.worker_id: None if w.last_beat is None else (now - w.last_beat).total_seconds()
        for w in workers
    }
    fresh = bool(ages) and all(a is not None and a <= max_age for a in ages.values())
    if cli.json:
        emit_json({"healthy": fresh, "max_age": max_age, "heartbeat_age_seconds": ages})
    elif not ages:
        console.print(f"unhealthy: no worker {worker_id or ''} is registered".replace("  ", " "))
    else:
        for wid, age in sorted(ages.items()):
            state = "ok" if age is not None and age <= max_age else "STALE"
            shown = "never" if age is None else f"{age:.1f} s ago"
            console.print(f"{state}  {wid}: last heartbeat {shown}")
    sys.exit(0 if fresh else 1)
