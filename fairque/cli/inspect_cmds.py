"""Read-only commands: info, users, user show, task show, explain, alerts."""

from __future__ import annotations

import time

import click

from fairque.cli.context import CliContext, pass_cli
from fairque.cli.output import age, console, emit_json, fmt, table
from fairque.core.exceptions import FairQueueError
from fairque.monitoring import Inspector
from fairque.monitoring.models import Alert
from fairque.util import mask_url


class NotFound(FairQueueError):
    """The task or user asked for does not exist."""


def _alerts_table(alerts: list[Alert]) -> None:
    if not alerts:
        console.print("[green]no alerts[/green]")
        return
    rows = [(a.severity, a.rule, a.subject, a.message, a.since) for a in alerts]
    console.print(table("Alerts", ["severity", "rule", "subject", "message", "since"], rows))


@click.command()
@pass_cli
def info(cli: CliContext) -> None:
    """Server, queue totals by state, workers, active alerts."""
    config = cli.config()
    with Inspector(config) as ins:
        o, workers, alerts = ins.overview(), ins.workers(), ins.alerts()
    if cli.json:
        emit_json({"overview": o, "workers": workers, "alerts": alerts})
        return
    s = o.server
    console.print(
        f"[bold]{o.queue}[/bold] on {mask_url(config.redis.url)} — {s.name} {s.version}, "
        f"memory {s.used_memory / 2**20:.1f} MiB"
        + (f" of {s.maxmemory / 2**20:.0f} MiB" if s.maxmemory else "")
        + f", policy {s.maxmemory_policy}"
    )
    t = o.totals
    console.print(
        table(
            "Tasks",
            [
                "ready",
                "delayed",
                "in flight",
                "dead",
                "users with work",
                "in round-robin",
                "paused",
            ],
            [
                (
                    t.ready,
                    t.delayed,
                    t.inflight,
                    t.dead,
                    t.backlogged_users,
                    t.active_users,
                    t.paused_users,
                )
            ],
        )
    )
    last5 = o.throughput[-5:]
    console.print(
        "last 5 min: "
        + ", ".join(
            f"{e} {sum(getattr(p, e) for p in last5):,}"
            for e in ("pushed", "completed", "failed", "dead")
        )
    )
    rows = [
        (
            w.worker_id,
            *w.registration_text(),
            w.inflight,
            w.processed,
            w.stolen,
            w.last_beat,
            w.stale,
        )
        for w in workers
    ]
    console.print(
        table(
            "Workers",
            ["id", "serves", "steals", "in flight", "processed", "stolen", "last beat", "stale"],
            rows,
        )
    )
    _alerts_table(alerts)


@click.command()
@click.option(
    "--sort", type=click.Choice(["backlog", "wait", "name"]), default="backlog", show_default=True
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@pass_cli
def users(cli: CliContext, sort: str, limit: int, offset: int) -> None:
    """Per-user table: backlog by priority, in flight, oldest age, waits, shares."""
    with Inspector(cli.config()) as ins:
        if sort == "wait":  # by p95 wait among the users with the most backlog
            page = ins.users(0, max(limit + offset, 200))
            rows_sorted = sorted(page.rows, key=lambda r: -(r.p95_wait_ms or 0))[
                offset : offset + limit
            ]
            page = page.model_copy(update={"rows": rows_sorted, "offset": offset})
        else:
            page = ins.users(offset, limit, sort)
    if cli.json:
        emit_json(page)
        return
    rows = [
        (
            r.user_id, r.weight, r.ready, r.critical, *[r.by_priority[p] for p in (5, 4, 3, 2, 1)],
            r.inflight, age(r.oldest_age_seconds), r.p95_wait_ms, f"{r.served_share:.0%}",
            f"{r.fair_share:.0%}", r.paused,
        )
        for r in page.rows
    ]  # fmt: skip
    cols = [
        "user",
        "weight",
        "ready",
        "crit",
        "p5",
        "p4",
        "p3",
        "p2",
        "p1",
        "in flight",
        "oldest",
        "p95 wait ms",
        "served",
        "fair",
        "paused",
    ]
    console.print(
        table(
            f"Users {offset + 1}-{offset + len(page.rows)} of {page.total_users} with work",
            cols,
            rows,
        )
    )


@click.group()
def user() -> None:
    """One user."""


@user.command("show")
@click.argument("user_id")
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Pending tasks per priority.",
)
@click.option("--offset", type=click.IntRange(0), default=0)
@pass_cli
def user_show(cli: CliContext, user_id: str, limit: int, offset: int) -> None:
    """Per-priority depth, in flight, oldest age, waits, share, paused, and pending tasks."""
    with Inspector(cli.config()) as ins:
        detail = ins.user(user_id, offset, limit)
    if cli.json:
        emit_json(detail)
        return
    r = detail.row
    cap = f"/{r.max_inflight}" if r.max_inflight else ""
    flags = (", PAUSED" if r.paused else "") + (", CAPPED" if r.capped else "")
    console.print(
        f"[bold]{r.user_id}[/bold]: weight {fmt(r.weight)}, ready {r.ready}, "
        f"in flight {r.inflight}{cap}, oldest {age(r.oldest_age_seconds)}, "
        f"p50/p95 wait {fmt(r.p50_wait_ms)}/{fmt(r.p95_wait_ms)} ms, "
        f"served {r.served_share:.0%} vs fair {r.fair_share:.0%}{flags}"
    )
    rows = [
        (p, t.task_id, age(t.age_seconds)) for p, tasks in detail.pending.items() for t in tasks
    ]
    console.print(
        table("Pending (next to run first, per priority)", ["priority", "task", "age"], rows)
    )


@click.group()
def task() -> None:
    """One task."""


@task.command("show")
@click.argument("task_id")
@pass_cli
def task_show(cli: CliContext, task_id: str) -> None:
    """State, attempts, payload, result or error of a task."""
    with Inspector(cli.config()) as ins:
        found = ins.task(task_id)
    if found is None:
        raise NotFound(f"no task {task_id!r} (unknown, or its result expired)")
    if cli.json:
        emit_json(found)
        return
    for key, value in found.model_dump().items():
        if value not in (None, ""):
            console.print(f"[bold]{key}[/bold]: {fmt(value)}", highlight=False)


@click.command()
@click.argument("task_id")
@pass_cli
def explain(cli: CliContext, task_id: str) -> None:
    """Why a task is where it is and what runs before it."""
    with Inspector(cli.config()) as ins:
        ex = ins.explain(task_id)
    if ex is None:
        raise NotFound(f"no task {task_id!r} (unknown, or its result expired)")
    if cli.json:
        emit_json(ex)
        return
    console.print(f"[bold]{ex.task_id}[/bold] ({ex.state}): {ex.summary}", highlight=False)
    for key in (
        "ahead_in_user",
        "dispatches_ahead",
        "estimated_start_seconds",
        "user_pass",
        "virtual_time",
        "worker_id",
        "lease_deadline",
        "due_at",
    ):
        value = getattr(ex, key)
        if value is not None:
            console.print(f"  {key}: {fmt(value)}", highlight=False)


@click.command()
@click.option("--watch", is_flag=True, help="Re-evaluate every --interval seconds until Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=5.0, show_default=True)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    help="With --watch: stop after N evaluations.",
)
@pass_cli
def alerts(cli: CliContext, watch: bool, interval: float, count: int | None) -> None:
    """Alerts firing now (with --watch, as they come and go)."""
    with Inspector(cli.config()) as ins:
        n = 0
        while True:
            found = ins.alerts()
            if cli.json:
                emit_json(found)
            else:
                if watch:
                    console.rule(time.strftime("%H:%M:%S"))
                _alerts_table(found)
            n += 1
            if not watch or (count is not None and n >= count):
                return
            time.sleep(interval)
