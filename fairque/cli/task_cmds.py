"""``fairque task``: one task by id: show it, wait for its outcome, cancel it (or a user's
tasks by state), run a delayed one now.

``task wait`` exit codes: 0 completed (the result is printed as JSON), 4 dead, 5 canceled,
6 timed out, 1 no such task (or any other error)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from fairque.cli.completion import complete_users
from fairque.cli.context import CliContext, pass_cli

if TYPE_CHECKING:
    from fairque.core.models import CancelResult, TaskInfo

GONE = " (unknown, or its result expired)"
EXIT_DEAD, EXIT_CANCELED, EXIT_TIMEOUT = 4, 5, 6


@click.group()
def task() -> None:
    """One task: show it, wait for it, cancel it, retry it now."""


@task.command("show")
@click.argument("task_id")
@pass_cli
def task_show(cli: CliContext, task_id: str) -> None:
    """State, attempts, progress, payload, result or error of a task."""
    from fairque.cli.inspect_cmds import read_and_show

    read_and_show(cli, lambda ins: ins.task(task_id), f"no task {task_id!r}{GONE}", show_task)


def show_task(found: TaskInfo) -> None:
    from fairque.cli.format import fmt
    from fairque.cli.output import console

    for key, value in found.model_dump().items():
        if value not in (None, "", (), []):
            console.print(f"[bold]{key}[/bold]: {fmt(value)}", highlight=False)


@task.command("wait")
@click.argument("task_id")
@click.option("--timeout", type=click.FloatRange(min=0), help="Seconds to wait at most.")
@pass_cli
def task_wait(cli: CliContext, task_id: str, timeout: float | None) -> None:
    """Wait for a task to end and print its result (exit 0); exit 4 if it died, 5 if it was
    canceled, 6 on time-out."""
    import json

    from fairque.cli.output import console, emit_json
    from fairque.core.exceptions import ResultTimeout
    from fairque.core.models import TaskState
    from fairque.queue import TaskQueue

    with TaskQueue(cli.config()) as q:
        try:
            info = q.wait(task_id, timeout)
        except ResultTimeout as exc:
            click.echo(f"timed out: {exc}", err=True)
            sys.exit(EXIT_TIMEOUT)
    if cli.json:
        emit_json(info)
    elif info.state == TaskState.COMPLETED:
        click.echo(json.dumps(info.result))
    elif info.state == TaskState.DEAD:
        console.print(f"dead after {info.attempts} attempt(s): {info.error_type}: {info.error}")
    else:
        console.print(f"canceled by {info.canceled_by or '?'}", highlight=False)
    if info.state == TaskState.COMPLETED:
        sys.exit(0)
    sys.exit(EXIT_DEAD if info.state == TaskState.DEAD else EXIT_CANCELED)


@task.command("cancel")
@click.argument("task_ids", nargs=-1)
@click.option("--user", "user_id", shell_complete=complete_users, help="All of a user's tasks.")
@click.option(
    "--state",
    "states",
    type=click.Choice(["ready", "delayed", "leased"]),
    multiple=True,
    help="With --user: only tasks in this state (repeatable; default all three).",
)
@click.option("--dry-run", is_flag=True)
@click.option("--yes", is_flag=True, help="Do not ask (needed without a terminal).")
@pass_cli
def task_cancel(
    cli: CliContext,
    task_ids: tuple[str, ...],
    user_id: str | None,
    states: tuple[str, ...],
    dry_run: bool,
    yes: bool,
) -> None:
    """Cancel tasks by id, or a user's tasks (--user, --state): ready and delayed ones at once,
    running ones by telling their worker (they end canceled, never retried)."""
    from fairque.cli.output import confirm
    from fairque.core.exceptions import ValidationError

    if bool(task_ids) == bool(user_id):
        raise ValidationError("give task ids, or --user (with --state), not both")
    if states and not user_id:
        raise ValidationError("--state goes with --user")
    if user_id:
        _cancel_user(cli, user_id, states or ("ready", "delayed", "leased"), dry_run, yes)
        return
    if dry_run:
        _cancel_preview(cli, list(task_ids))
        return
    cli.refuse_if_read_only("cancel")
    confirm(f"Cancel {len(task_ids)} task(s)?", yes)
    from fairque.queue import TaskQueue

    with TaskQueue(cli.config()) as q:
        results = q.cancel_many(list(task_ids), by=_actor())
    _report_cancels(cli, results)


@task.command("retry")
@click.argument("task_ids", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask (needed without a terminal).")
@pass_cli
def task_retry(cli: CliContext, task_ids: tuple[str, ...], yes: bool) -> None:
    """Run delayed tasks now: a retry waiting out its backoff, or a push with a delay. (A dead
    task goes back with `fairque dlq requeue`.)"""
    from fairque.cli.output import confirm, console, emit_json
    from fairque.monitoring import Admin

    cli.refuse_if_read_only("retry")
    confirm(f"Make {len(task_ids)} delayed task(s) due now?", yes)
    with Admin(cli.config(), read_only=cli.read_only, actor=_actor()) as admin:
        result = admin.retry_now(list(task_ids))
    if cli.json:
        emit_json(result)
        return
    for task_id, outcome in result.detail.items():
        said = {"ok": "due now", "missing": f"no such task{GONE}"}.get(
            outcome, f"not delayed ({outcome}): left as it is"
        )
        console.print(f"{task_id}: {said}", highlight=False)
    if result.matched == 0:
        sys.exit(1)


def _actor() -> str:
    import getpass
    import socket

    return f"{getpass.getuser()}@{socket.gethostname()}"


def _cancel_preview(cli: CliContext, task_ids: list[str]) -> None:
    from fairque.cli.output import console, emit_json
    from fairque.monitoring import Inspector

    with Inspector(cli.config()) as ins:
        found = {t: ins.task(t) for t in task_ids}
    if cli.json:
        emit_json({t: (None if i is None else str(i.state)) for t, i in found.items()})
        return
    for task_id, info in found.items():
        what = (
            "not found"
            if info is None
            else f"{info.state}: would "
            + ("be canceled" if not info.ended else "stay as it is (ended)")
        )
        console.print(f"dry run: {task_id} {what}", highlight=False)


def _report_cancels(cli: CliContext, results: list[CancelResult]) -> None:
    from fairque.cli.output import console, emit_json
    from fairque.core.models import CancelOutcome

    if cli.json:
        emit_json(results)
        return
    words = {
        CancelOutcome.CANCELED: "canceled",
        CancelOutcome.REQUESTED: "cancel sent to its worker (running)",
        CancelOutcome.ENDED: "already ended, left as it is",
        CancelOutcome.NOT_FOUND: f"no such task{GONE}",
    }
    for r in results:
        state = f" ({r.state})" if r.state and r.outcome == CancelOutcome.ENDED else ""
        console.print(f"{r.task_id}: {words[r.outcome]}{state}", highlight=False)
    if all(r.outcome == CancelOutcome.NOT_FOUND for r in results):
        sys.exit(1)


def _cancel_user(
    cli: CliContext, user_id: str, states: tuple[str, ...], dry_run: bool, yes: bool
) -> None:
    from fairque.cli.admin_cmds import report
    from fairque.cli.output import confirm, progress_bar
    from fairque.monitoring import Admin

    with Admin(cli.config(), read_only=cli.read_only, actor=_actor()) as admin:
        preview = admin.cancel_user(user_id, states, dry_run=True)
        if dry_run or preview.matched == 0:
            report(cli, preview, "cancel")
            return
        cli.refuse_if_read_only("cancel")
        confirm(f"Cancel {preview.matched} task(s) of {user_id} ({', '.join(states)})?", yes)
        with progress_bar("canceling", not cli.json) as bar:
            result = admin.cancel_user(user_id, states, progress=bar)
    report(cli, result, "canceled")
