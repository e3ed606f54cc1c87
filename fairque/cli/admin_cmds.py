"""Commands that change things: push, dlq, drain, pause, resume. Destructive ones preview
what they will touch, ask on a terminal, need --yes otherwise, and support --dry-run.

Shell completion of ``--user`` loads this module on every TAB, so only click and the
completion callback are imported here; each command imports what it runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from fairque.cli.completion import complete_users
from fairque.cli.context import CliContext, pass_cli

if TYPE_CHECKING:
    from fairque.core.models import DLQEntry, TaskInfo
    from fairque.monitoring import Inspector
    from fairque.monitoring.models import AdminResult


def report(cli: CliContext, result: AdminResult, verb: str) -> None:
    from fairque.cli.output import console, emit_json

    if cli.json:
        emit_json(result)
    elif result.matched == 0:
        console.print("nothing to do: no task matched")
    elif result.dry_run:
        console.print(f"dry run: would {verb} {result.matched} task(s); nothing was changed")
    else:
        console.print(f"{verb}: {result.touched} of {result.matched} task(s)")


@click.command()
@click.option("--user", "user_id", required=True, shell_complete=complete_users)
@click.option("--priority", type=click.IntRange(1, 6), default=3, show_default=True)
@click.option("--payload", help="JSON text, or @file.")
@click.option("--handler", help="Registered handler name.")
@click.option("--delay", type=click.FloatRange(min=0), help="Seconds before it may start.")
@click.option("--task-id", help="Id (push is idempotent by id).")
@click.option("--max-attempts", type=click.IntRange(min=1))
@click.option("--tenant", help="The tenant the user belongs to (fair between tenants first).")
@click.option("--cost", type=float, help="Charged instead of one turn or the run time.")
@pass_cli
def push(
    cli: CliContext,
    user_id: str,
    priority: int,
    payload: str | None,
    handler: str | None,
    delay: float | None,
    task_id: str | None,
    max_attempts: int | None,
    tenant: str | None,
    cost: float | None,
) -> None:
    """Push one task."""
    from fairque.cli.output import console, emit_json
    from fairque.cli.schedule_cmd import parse_payload
    from fairque.core.models import Task
    from fairque.queue import TaskQueue

    cli.refuse_if_read_only("push")
    t = Task.create(
        user_id, priority, parse_payload(payload), task_id=task_id, handler=handler,
        max_attempts=max_attempts, delay=delay, tenant=tenant, cost=cost,
    )  # fmt: skip
    with TaskQueue(cli.config()) as q:
        result = q.push(t)
    if cli.json:
        emit_json(result)
    else:
        console.print(
            f"{'pushed' if result.created else 'already there'}: {result.task_id} ({result.state})"
        )


@click.group()
def dlq() -> None:
    """The dead-letter queue."""


@dlq.command("ls")
@click.option("--user", "user_id", help="Only this user's entries.")
@click.option("--error", help="Only entries whose error contains this text.")
@click.option("--group-by", type=click.Choice(["error", "user"]), help="Counts per error or user.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@pass_cli
def dlq_ls(
    cli: CliContext, user_id: str | None, error: str | None, group_by: str | None, limit: int
) -> None:
    """List dead tasks, newest first (or grouped)."""
    from fairque.cli.output import emit_json, show_table
    from fairque.cli.tables import Col
    from fairque.monitoring import Inspector

    with Inspector(cli.config()) as ins:
        if group_by:
            groups = ins.dlq_groups(group_by)
            if cli.json:
                emit_json(groups)
                return
            title = f"DLQ by {group_by} ({groups.scanned} of {groups.total} scanned)"
            grouped = [(g.key, g.count, ", ".join(g.sample_task_ids)) for g in groups.groups]
            cols: list[Col | str] = [
                Col(group_by, wrap=True, left=True),
                "count",
                Col("examples", wrap=True, left=True),
            ]
            show_table(title, cols, grouped)
            return
        entries: list[DLQEntry] = []
        offset = 0
        while len(entries) < limit:
            page = ins.dlq(500, offset)
            if not page:
                break
            offset += len(page)
            entries += [
                e
                for e in page
                if (user_id is None or e.user_id == user_id)
                and (error is None or error.lower() in e.error.lower())
            ]
        entries = entries[:limit]
    if cli.json:
        emit_json(entries)
        return
    print_dlq(entries, datetime.now(UTC))


def print_dlq(entries: list[DLQEntry], now: datetime) -> None:
    from fairque.cli.inspect_cmds import ago
    from fairque.cli.output import show_table
    from fairque.cli.tables import Col

    rows = [
        (e.task_id, e.user_id, e.attempts, e.error_type, first_line(e.error),
         ago(e.failed_at, now))
        for e in entries
    ]  # fmt: skip
    cols: list[Col | str] = [
        Col("task", left=True),
        Col("user", wrap=True, left=True),
        Col("attempts", rank=2),
        Col("type", rank=1, left=True),
        Col("error", wrap=True, left=True),
        Col("failed", rank=1),
    ]
    show_table(f"DLQ ({len(entries)} shown; `fairque dlq show ID` for one)", cols, rows)


def dead_task(ins: Inspector, task_id: str) -> TaskInfo | None:
    info = ins.task(task_id)
    return info if info is not None and info.state == "dead" else None


def first_line(text: str) -> str:
    """The first line of an error (wrapped in its column; ``dlq show`` has the rest)."""
    return text.strip().split("\n", 1)[0]


@dlq.command("show")
@click.argument("task_id")
@pass_cli
def dlq_show(cli: CliContext, task_id: str) -> None:
    """One dead task: payload, error and traceback."""
    from fairque.cli.inspect_cmds import read_and_show

    missing = f"task {task_id!r} is not in the DLQ"
    read_and_show(cli, lambda ins: dead_task(ins, task_id), missing, _show_dead)


def _show_dead(info: TaskInfo) -> None:
    from fairque.cli.format import fmt
    from fairque.cli.output import console

    console.print(
        f"[bold]{info.task_id}[/bold] user {info.user_id}, attempts {info.attempts}, "
        f"worker {info.worker_id}"
    )
    console.print(f"error ({info.error_type}): {info.error}", highlight=False)
    console.print(f"payload: {fmt(info.payload)}", highlight=False)
    if info.traceback:
        console.print(info.traceback, highlight=False, markup=False)


@dlq.command("requeue")
@click.argument("task_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every dead task.")
@click.option("--user", "user_id", help="A user's dead tasks.", shell_complete=complete_users)
@click.option("--error", help="Dead tasks whose error contains this text.")
@click.option("--dry-run", is_flag=True, help="Show what would be requeued; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask (needed without a terminal for --all).")
@click.option(
    "--rate", type=click.FloatRange(min=0, min_open=True), help="Tasks per second at most."
)
@pass_cli
def dlq_requeue(
    cli: CliContext,
    task_ids: tuple[str, ...],
    all_: bool,
    user_id: str | None,
    error: str | None,
    dry_run: bool,
    yes: bool,
    rate: float | None,
) -> None:
    """Put dead tasks back to ready (ids kept, attempts reset)."""
    from fairque.cli.output import confirm, progress_bar
    from fairque.monitoring import Admin

    if not (task_ids or all_ or user_id or error):
        raise click.UsageError("choose what: TASK_ID..., --all, --user or --error")
    with Admin(cli.config(), read_only=cli.read_only) as admin:
        kw = {"all": all_, "user": user_id, "error": error}
        preview = admin.requeue(list(task_ids) or None, dry_run=True, **kw)  # type: ignore[arg-type]
        if dry_run or preview.matched == 0:
            report(cli, preview, "requeue")
            return
        cli.refuse_if_read_only("dlq requeue")
        if all_:
            confirm(f"Requeue all {preview.matched} dead task(s)?", yes)
        with progress_bar("requeueing", not cli.json) as bar:
            result = admin.requeue(list(task_ids) or None, rate=rate, progress=bar, **kw)  # type: ignore[arg-type]
    report(cli, result, "requeued")


@dlq.command("purge")
@click.argument("task_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every dead task.")
@click.option("--user", "user_id", help="A user's dead tasks.", shell_complete=complete_users)
@click.option("--older-than", help="Dead for longer than this (45s, 30m, 12h, 7d).")
@click.option("--dry-run", is_flag=True)
@click.option("--yes", is_flag=True, help="Do not ask (needed without a terminal).")
@pass_cli
def dlq_purge(
    cli: CliContext,
    task_ids: tuple[str, ...],
    all_: bool,
    user_id: str | None,
    older_than: str | None,
    dry_run: bool,
    yes: bool,
) -> None:
    """Delete dead tasks for good."""
    from fairque.cli.output import confirm, parse_duration, progress_bar
    from fairque.monitoring import Admin

    if not (task_ids or all_ or user_id or older_than):
        raise click.UsageError("choose what: TASK_ID..., --all, --user or --older-than")
    age_s = parse_duration(older_than) if older_than else None
    with Admin(cli.config(), read_only=cli.read_only) as admin:
        ids = list(task_ids) or None
        preview = admin.purge(ids, all=all_, user=user_id, older_than=age_s, dry_run=True)
        if dry_run or preview.matched == 0:
            report(cli, preview, "purge")
            return
        cli.refuse_if_read_only("dlq purge")
        confirm(f"Delete {preview.matched} dead task(s) for good?", yes)
        with progress_bar("purging", not cli.json) as bar:
            result = admin.purge(ids, all=all_, user=user_id, older_than=age_s, progress=bar)
    report(cli, result, "purged")


@click.command()
@click.option("--user", "user_id", required=True, shell_complete=complete_users)
@click.option("--priority", type=click.IntRange(1, 6), help="Only this priority.")
@click.option(
    "--export",
    type=click.Path(dir_okay=False, writable=True),
    help="Append drained tasks to this JSONL file.",
)
@click.option("--dry-run", is_flag=True)
@click.option("--yes", is_flag=True, help="Do not ask (needed without a terminal).")
@pass_cli
def drain(
    cli: CliContext,
    user_id: str,
    priority: int | None,
    export: str | None,
    dry_run: bool,
    yes: bool,
) -> None:
    """Cancel a user's ready tasks (optionally exporting them first)."""
    from fairque.cli.output import confirm, progress_bar
    from fairque.monitoring import Admin

    with Admin(cli.config(), read_only=cli.read_only) as admin:
        preview = admin.drain(user_id, priority=priority, dry_run=True)
        if dry_run or preview.matched == 0:
            report(cli, preview, "drain")
            return
        cli.refuse_if_read_only("drain")
        where = (
            f" (exported to {export})"
            if export
            else " (not exported: pass --export FILE to keep them)"
        )
        confirm(f"Cancel {preview.matched} ready task(s) of {user_id}{where}?", yes)
        with progress_bar("draining", not cli.json) as bar:
            result = admin.drain(user_id, priority=priority, export=export, progress=bar)
    report(cli, result, "drained")


@click.command()
@click.option("--user", "user_id", required=True, shell_complete=complete_users)
@pass_cli
def pause(cli: CliContext, user_id: str) -> None:
    """Take a user out of the round-robin (pushes are still accepted)."""
    _switch(cli, "pause", user_id, f"{user_id} paused", f"{user_id} was already paused")


@click.command()
@click.option("--user", "user_id", required=True, shell_complete=complete_users)
@pass_cli
def resume(cli: CliContext, user_id: str) -> None:
    """Put a paused user back into the round-robin."""
    _switch(cli, "resume", user_id, f"{user_id} resumed", f"{user_id} was not paused")


def _switch(cli: CliContext, action: str, user_id: str, done: str, unchanged: str) -> None:
    """Pause or resume a user and say whether anything changed."""
    from fairque.cli.output import console, emit_json
    from fairque.monitoring import Admin

    cli.refuse_if_read_only(action)
    with Admin(cli.config()) as admin:
        result = admin.pause(user_id) if action == "pause" else admin.resume(user_id)
    if cli.json:
        emit_json(result)
    else:
        console.print(done if result.touched else unchanged)
