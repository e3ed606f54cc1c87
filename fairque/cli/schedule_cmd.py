"""``fairque scheduler run`` and ``fairque schedule add|ls|rm|enable|disable``."""

from __future__ import annotations

import json
import logging
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from fairque.cli.context import CliContext, pass_cli
from fairque.cli.output import console, show_table
from fairque.cli.tables import Col
from fairque.core.exceptions import ScheduleNotFound
from fairque.core.schedule import MissedRuns, ScheduledTask
from fairque.scheduler import TaskScheduler


def parse_payload(text: str | None) -> Any:
    """JSON text, or ``@file`` holding JSON."""
    if text is None:
        return None
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text("utf-8")
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {text[1:]}: {exc.strerror}", param_hint="--payload"
            ) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--payload") from None


@click.group()
def scheduler() -> None:
    """Run the cron scheduler."""


@scheduler.command("run")
@pass_cli
def scheduler_run(cli: CliContext) -> None:
    """Fire schedules until SIGTERM/SIGINT. Run several for failover: one leads at a time."""
    cli.refuse_if_read_only("scheduler run")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    s = TaskScheduler(cli.config())
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: s.stop())
    s.run()


@click.group()
def schedule() -> None:
    """Manage recurring tasks."""


@schedule.command("add")
@click.argument("name")
@click.argument("cron")
@click.option("--user", "user_id", required=True, help="The user the tasks belong to.")
@click.option("--priority", type=click.IntRange(1, 6), default=3, show_default=True)
@click.option("--payload", help="JSON text, or @file.")
@click.option("--handler", help="Registered handler name.")
@click.option("--tz", "timezone", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--missed", type=click.Choice([m.value for m in MissedRuns]), default="skip",
              show_default=True, help="Fire times missed while no scheduler ran.")  # fmt: skip
@click.option("--catch-up-max", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--replace", is_flag=True, help="Replace a schedule of the same name.")
@click.option("--disabled", is_flag=True, help="Store it disabled.")
@pass_cli
def schedule_add(
    cli: CliContext,
    name: str,
    cron: str,
    user_id: str,
    priority: int,
    payload: str | None,
    handler: str | None,
    timezone: str,
    missed: str,
    catch_up_max: int,
    replace: bool,
    disabled: bool,
) -> None:
    """Add schedule NAME firing on CRON (5 fields, or 6 with seconds last)."""
    cli.refuse_if_read_only("schedule add")
    st = ScheduledTask(
        name=name, cron=cron, timezone=timezone, user_id=user_id, priority=priority,
        payload=parse_payload(payload), handler=handler, missed=MissedRuns(missed),
        catch_up_max=catch_up_max, enabled=not disabled,
    )  # fmt: skip
    s = TaskScheduler(cli.config())
    if not s.add(st, replace=replace) and not replace:
        raise click.ClickException(
            f"a schedule named {name!r} exists; pass --replace to replace it"
        )
    nxt = s.next_runs(name, 1)[0] if st.enabled else None
    if cli.json:
        click.echo(json.dumps({"name": name, "next_run": nxt.isoformat() if nxt else None}))
    else:
        console.print(
            f"schedule {name!r} stored; next run {nxt.isoformat() if nxt else '(disabled)'}"
        )


def _when(moment: datetime | None) -> str:
    """A run time in a table: UTC to the minute (``--json`` has it to the second)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "-"


@schedule.command("ls")
@pass_cli
def schedule_ls(cli: CliContext) -> None:
    """List schedules with their last and next runs."""
    infos = TaskScheduler(cli.config()).schedules()
    if cli.json:
        click.echo(json.dumps([i.model_dump(mode="json") for i in infos]))
        return
    if not infos:
        console.print("no schedules")
        return
    rows = [
        (
            i.schedule.name, i.schedule.cron, i.schedule.timezone, i.schedule.user_id,
            i.schedule.enabled, i.schedule.missed.value,
            _when(i.last_run), _when(i.next_run),
        )
        for i in infos
    ]  # fmt: skip
    cols: list[Col | str] = [
        Col("name", wrap=True, left=True),
        Col("cron", left=True),
        Col("tz", rank=1, left=True),
        Col("user", wrap=True, left=True),
        "enabled",
        Col("missed", rank=2, left=True),
        Col("last run (UTC)", rank=1),
        "next run (UTC)",
    ]
    show_table("Schedules", cols, rows)


@schedule.command("rm")
@click.argument("name")
@pass_cli
def schedule_rm(cli: CliContext, name: str) -> None:
    """Remove schedule NAME."""
    cli.refuse_if_read_only("schedule rm")
    if not TaskScheduler(cli.config()).remove(name):
        raise ScheduleNotFound(f"no schedule named {name!r}")
    console.print(f"schedule {name!r} removed")


@schedule.command("enable")
@click.argument("name")
@pass_cli
def schedule_enable(cli: CliContext, name: str) -> None:
    """Enable schedule NAME."""
    _set_enabled(cli, name, True)


@schedule.command("disable")
@click.argument("name")
@pass_cli
def schedule_disable(cli: CliContext, name: str) -> None:
    """Disable schedule NAME (it keeps its last run)."""
    _set_enabled(cli, name, False)


def _set_enabled(cli: CliContext, name: str, enabled: bool) -> None:
    cli.refuse_if_read_only("schedule enable" if enabled else "schedule disable")
    TaskScheduler(cli.config()).set_enabled(name, enabled)
