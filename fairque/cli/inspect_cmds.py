"""Read-only commands: info, users, user show, explain, alerts."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from fairque.cli.context import CliContext, pass_cli
from fairque.cli.format import age, fmt, ms, share
from fairque.cli.output import console, emit_json, show_table
from fairque.cli.tables import Col
from fairque.core.exceptions import FairQueueError
from fairque.monitoring import Inspector
from fairque.monitoring.merge import user_order
from fairque.monitoring.models import (
    Alert,
    Explanation,
    Overview,
    UserPage,
    UserRow,
    WorkerInfo,
)
from fairque.monitoring.readable import dependency_lines
from fairque.util import mask_url


class NotFound(FairQueueError):
    """The task or user asked for does not exist."""


GONE = " (unknown, or its result expired)"
T = TypeVar("T")


def read_and_show(
    cli: CliContext, read: Callable[[Inspector], T | None], missing: str, show: Callable[[T], None]
) -> None:
    """Show what ``read`` finds through an Inspector: as JSON with ``--json``, else with
    ``show``; NotFound saying ``missing`` when it finds nothing."""
    with Inspector(cli.config()) as ins:
        found = read(ins)
    if found is None:
        raise NotFound(missing)
    if cli.json:
        emit_json(found)
    else:
        show(found)


def ago(moment: datetime | None, now: datetime) -> str:
    return "-" if moment is None else age(max((now - moment).total_seconds(), 0.0))


def print_alerts(alerts: list[Alert], now: datetime) -> None:
    if not alerts:
        console.print("[green]no alerts[/green]")
        return
    rows = [(a.severity, a.rule, a.subject, a.message, ago(a.since, now)) for a in alerts]
    cols: list[Col | str] = [
        Col("severity", left=True),
        Col("rule", left=True),
        Col("subject", left=True),
        Col("message", wrap=True, left=True),
        Col("for", rank=1),
    ]
    show_table("Alerts", cols, rows)


def print_info(o: Overview, workers: list[WorkerInfo], alerts: list[Alert], url: str) -> None:
    s = o.server
    console.print(
        f"[bold]{o.queue}[/bold] on {mask_url(url)} — {s.name} {s.version}, "
        f"memory {s.used_memory / 2**20:.1f} MiB"
        + (f" of {s.maxmemory / 2**20:.0f} MiB" if s.maxmemory else "")
        + f", policy {s.maxmemory_policy}",
        highlight=False,
    )
    t = o.totals
    totals: list[Col | str] = [
        Col("ready"),
        "delayed",
        "in flight",
        "dead",
        "users with work",
        Col("in round-robin", rank=1),
        Col("paused users", rank=1),
    ]
    row: tuple[Any, ...] = (t.ready, t.delayed, t.inflight, t.dead, t.backlogged_users,
                            t.active_users, t.paused_users)  # fmt: skip
    if t.blocked:  # tasks waiting for their parents: shown once there are some
        totals.insert(1, "blocked")
        row = (row[0], t.blocked, *row[1:])
    show_table("Tasks", totals, [row])
    last5 = o.throughput[-5:]
    console.print(
        "last 5 min: "
        + ", ".join(
            f"{e} {sum(getattr(p, e) for p in last5):,}"
            for e in ("pushed", "completed", "failed", "dead")
        ),
        highlight=False,
    )
    rows = [
        (w.worker_id, *w.registration_text(), w.inflight, w.processed, w.stolen,
         ago(w.last_beat, o.fetched_at), "STALE" if w.stale else "ok")
        for w in workers
    ]  # fmt: skip
    cols: list[Col | str] = [
        Col("worker", wrap=True, left=True),
        Col("serves", wrap=True, left=True),
        Col("steals", rank=1, wrap=True, left=True),
        "in flight",
        "processed",
        Col("stolen", rank=2),
        Col("beat", rank=1),
        "state",
    ]
    show_table("Workers", cols, rows)
    print_alerts(alerts, o.fetched_at)


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
    print_info(o, workers, alerts, config.redis.url)


def user_state(r: UserRow) -> str:
    """One word for what holds a user back, if anything."""
    if r.paused:
        return "paused"
    if r.throttled_until:
        return "throttled"
    if r.capped:
        return "capped" if r.cap_mode == "hard" else "soft cap"
    if not r.ready and not r.inflight and r.blocked:
        return "blocked"  # its tasks wait for their parents
    return "ok" if r.ready or r.inflight else "idle"


# At 80 columns: user, ready, in flight, oldest, p95 wait, served, fair, state.
USER_COLUMNS: list[Col | str] = [
    Col("user", wrap=True, left=True),
    Col("weight", rank=1),
    "ready",
    Col("crit", rank=2),
    *[Col(f"p{p}", rank=3) for p in (5, 4, 3, 2, 1)],
    "in flight",
    "oldest",
    Col("p50 wait", rank=2),
    "p95 wait",
    "served",
    "fair",
    Col("state", left=True),
]


def print_users(page: UserPage) -> None:
    rows: list[tuple[Any, ...]] = [
        (
            r.user_id, f"{r.weight:g}" + ("↑" if r.boosted_until else ""), r.ready, r.critical,
            *[r.by_priority.get(p, 0) for p in (5, 4, 3, 2, 1)], r.inflight,
            age(r.oldest_age_seconds), ms(r.p50_wait_ms), ms(r.p95_wait_ms),
            share(r.served_share), share(r.fair_share), user_state(r),
        )
        for r in page.rows
    ]  # fmt: skip
    columns = USER_COLUMNS
    if any(r.blocked for r in page.rows):  # tasks waiting for parents: a column once some do
        at = USER_COLUMNS.index("in flight") + 1
        columns = [*USER_COLUMNS[:at], Col("blocked", rank=1), *USER_COLUMNS[at:]]
        rows = [(*row[:at], r.blocked, *row[at:]) for row, r in zip(rows, page.rows, strict=True)]
    if page.rows:
        span = f"Users {page.offset + 1}-{page.offset + len(page.rows)} of {page.total_users}"
    elif page.total_users:  # an offset past the last one
        span = f"Users: none past {page.offset} of {page.total_users}"
    else:
        span = "Users: none"
    show_table(
        f"{span} with work "
        "(served: share of the last 5 min's dispatches; fair: what a fair scheduler would "
        "have given it; `fairque users --help`)",
        columns,
        rows,
    )


@click.command()
@click.option(
    "--sort", type=click.Choice(["backlog", "wait", "name"]), default="backlog", show_default=True
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@pass_cli
def users(cli: CliContext, sort: str, limit: int, offset: int) -> None:
    """Per-user table: backlog, in flight, oldest age, waits, served and fair shares.

    served is the user's share of the tasks dispatched in the last 5 minutes. fair is what a
    perfectly fair scheduler would have given it of those dispatches, given what every user
    asked for (served + still queued) and the weights: users that wanted less than their
    weighted part get all they wanted, and the rest is split by weight. served = fair means
    the user was treated fairly; served below fair means it waited while others took its
    part. --sort wait orders by p95 wait."""
    with Inspector(cli.config()) as ins:
        if sort == "wait":  # by p95 wait among the users with the most backlog
            page = ins.users(0, max(limit + offset, 200))
            rows_sorted = sorted(page.rows, key=user_order("wait"))[offset : offset + limit]
            page = page.model_copy(update={"rows": rows_sorted, "offset": offset})
        else:
            page = ins.users(offset, limit, sort)
    if cli.json:
        emit_json(page)
        return
    print_users(page)


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
    tenant = f" (tenant {r.tenant}, weight {fmt(detail.tenant_weight)})" if r.tenant else ""
    run = f", mean run {fmt(r.mean_run_seconds)} s" if r.mean_run_seconds is not None else ""
    run = f", fair by {detail.fairness}{run}"
    console.print(
        f"[bold]{r.user_id}[/bold]{tenant}: weight {fmt(r.weight)}{run}, ready {r.ready}, "
        f"in flight {r.inflight}{cap}, oldest {age(r.oldest_age_seconds)}, "
        f"p50/p95 wait {fmt(r.p50_wait_ms)}/{fmt(r.p95_wait_ms)} ms, "
        f"served {r.served_share:.0%} vs fair {r.fair_share:.0%}{flags}"
    )
    if r.rate:
        wake = f", throttled until {fmt(r.throttled_until)}" if r.throttled_until else ""
        console.print(f"rate limit {r.rate} (burst {r.burst}): {r.tokens} token(s) left{wake}")
    rows = [
        (p, t.task_id, age(t.age_seconds)) for p, tasks in detail.pending.items() for t in tasks
    ]
    show_table("Pending (next to run first, per priority)", ["priority", "task", "age"], rows)


@click.command()
@click.argument("task_id")
@pass_cli
def explain(cli: CliContext, task_id: str) -> None:
    """Why a task is where it is and what runs before it."""
    missing = f"no task {task_id!r}{GONE}"
    read_and_show(cli, lambda ins: ins.explain(task_id), missing, _show_explanation)


def _show_explanation(ex: Explanation) -> None:
    console.print(f"[bold]{ex.task_id}[/bold] ({ex.state}): {ex.summary}", highlight=False)
    if ex.state == "blocked":  # what each parent it waits for is doing
        for line in ex.blocked_by:
            console.print(f"  waits for {line}", highlight=False)
    for line in dependency_lines(ex):
        console.print(f"  {line}", highlight=False)
    for key in (
        "ahead_in_user",
        "dispatches_ahead",
        "estimated_start_seconds",
        "user_pass",
        "virtual_time",
        "tenant",
        "tenant_pass",
        "worker_id",
        "lease_deadline",
        "due_at",
    ):
        value = getattr(ex, key)
        if value is not None:
            console.print(f"  {key}: {fmt(value)}", highlight=False)
    if ex.charge is not None:
        unit = "s" if ex.fairness == "time" else "turn(s)"  # a cost is in the same unit
        console.print(
            f"  charge: {fmt(ex.charge)} {unit} ({ex.charge_basis}; fairness by {ex.fairness})",
            highlight=False,
        )


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
                print_alerts(found, datetime.now(UTC))
            n += 1
            if not watch or (count is not None and n >= count):
                return
            time.sleep(interval)
