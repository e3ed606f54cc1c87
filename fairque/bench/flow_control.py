"""Scenarios ``rate-limit`` and ``soft-cap`` (also in the fairness suite): flow control that
holds a user to its limit without leaving workers idle or polling for it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fairque.bench.common import BenchReport, Progress, bench_server, quiet, server_facts
from fairque.bench.workload import (
    CONCURRENCY,
    Dispatch,
    Stream,
    after_seconds,
    run_fairque,
    span,
)

LIMIT = 200  # tasks per second the limited user may run
WORK = 0.001


def _rate(rows: Sequence[Dispatch], users: set[str], start: float, end: float) -> float:
    n = sum(1 for d in rows if d.user in users and start <= d.started <= end)
    return n / (end - start) if end > start else 0.0


def run_rate_limit(
    redis_url: str | None = None, tasks: int = 5000, progress: Progress = quiet
) -> BenchReport:
    """A user limited to 200/s during a flood of two others (``tasks / 500`` seconds, 1-10):
    its rate, the others' throughput against the same run without it, and the worker's CPU
    with only the limited user backlogged."""
    seconds = min(max(tasks / 500, 1.0), 10.0)
    backlog = 4000 * int(seconds) + 4000  # more than the workers can run meanwhile
    flood = [Stream("flood-a", backlog, WORK), Stream("flood-b", backlog, WORK)]
    limited = Stream("limited", backlog, WORK)
    users = {"limited": {"rate": f"{LIMIT}/s"}}
    with bench_server(redis_url) as url:
        report = BenchReport(
            scenario="rate-limit",
            server=server_facts(url),
            params={"limit_per_s": LIMIT, "burst": LIMIT // 10, "seconds": seconds,
                    "concurrency": CONCURRENCY, "work_ms": WORK * 1000},
        )  # fmt: skip
        progress("the flood with the limited user")
        with_limited = run_fairque(url, [*flood, limited], after_seconds(seconds), users=users)
        progress("the flood alone")
        alone = run_fairque(url, flood, after_seconds(seconds))
        progress("the limited user alone: worker CPU")
        cpu: dict[str, float] = {}
        lone = run_fairque(url, [limited], after_seconds(seconds), cpu, users=users)
        progress("a user limited to 1/m alone: the worker while it may run nothing")
        idle: dict[str, float] = {}
        slow = {"limited": {"rate": "1/m", "burst": 1}}
        run_fairque(url, [limited], after_seconds(min(seconds, 5.0)), idle, users=slow)
    start, end = span(with_limited)
    limited_rate = _rate(with_limited, {"limited"}, start, end)
    others = _rate(with_limited, {"flood-a", "flood-b"}, start, end)
    a_start, a_end = span(alone)
    others_alone = _rate(alone, {"flood-a", "flood-b"}, a_start, a_end)
    l_start, l_end = span(lone)
    lone_rate = _rate(lone, {"limited"}, l_start, l_end)
    report.results = {
        "limited_per_s": round(limited_rate, 1),
        "others_per_s": round(others),
        "others_per_s_without_it": round(others_alone),
        "limited_alone_per_s": round(lone_rate, 1),
        "worker_cpu_alone_pct_of_core": round(100 * _share(cpu), 1),
        "worker_cpu_us_per_task_alone": round(1e6 * cpu.get("cpu_s", 0) / max(len(lone), 1)),
        "worker_cpu_throttled_pct_of_core": round(100 * _share(idle), 2),
    }
    report.ratios = {
        "limited_vs_limit": round(limited_rate / LIMIT, 4),
        "others_vs_without": round(others / others_alone, 4) if others_alone else 0.0,
        "total_vs_without": round((others + limited_rate) / others_alone, 4)
        if others_alone
        else 0.0,
    }
    return report


def _share(cpu: dict[str, float]) -> float:
    return cpu["cpu_s"] / cpu["wall_s"] if cpu.get("wall_s") else 0.0


def _max_in_flight(rows: Sequence[Dispatch], user: str, after: float = 0.0) -> int:
    """The most tasks of ``user`` running at once among those started after ``after``."""
    events: list[tuple[float, int]] = []
    for d in rows:
        if d.user == user:
            events += [(d.started, 1), (d.ended, -1)]
    events.sort()
    now = best = 0
    for when, step in events:
        now += step
        if when >= after:
            best = max(best, now)
    return best


def _starts_over_cap(rows: Sequence[Dispatch], user: str, cap: int, after: float) -> int:
    """Dispatches of ``user`` that started after ``after`` while it already ran ``cap``."""
    mine = [d for d in rows if d.user == user]
    over = 0
    for d in mine:
        if d.started > after:
            running = sum(1 for o in mine if o is not d and o.started <= d.started < o.ended)
            over += running >= cap
    return over


def run_soft_cap(
    redis_url: str | None = None, tasks: int = 2000, progress: Progress = quiet
) -> BenchReport:
    """A user capped at 2 in flight, 4 worker threads: alone, with a soft cap it uses them
    all (with a hard cap two sit idle); once another user has work, it is held to its cap."""
    cap = 2
    work = 0.02
    seconds = 2.0
    big = Stream("capped", max(tasks, 1000), work)
    late = Stream("other", max(tasks, 1000), work, start_s=seconds / 2)
    users: dict[str, Any] = {"capped": {"max_inflight": cap}}
    with bench_server(redis_url) as url:
        report = BenchReport(
            scenario="soft-cap",
            server=server_facts(url),
            params={"max_inflight": cap, "concurrency": CONCURRENCY, "work_ms": work * 1000,
                    "other_user_arrives_s": seconds / 2},
        )  # fmt: skip
        progress("soft cap: alone, then another user arrives")
        soft = run_fairque(
            url, [big, late], after_seconds(seconds), users=users, max_inflight_mode="soft"
        )
        progress("hard cap: alone")
        hard = run_fairque(url, [big], after_seconds(seconds / 2), users=users)
    arrived = min((d.started for d in soft if d.user == "other"), default=float("inf"))
    alone_rows = [d for d in soft if d.started < arrived]
    s0, s1 = span(alone_rows, 0.2) if alone_rows else (0.0, 0.0)
    h0, h1 = span(hard, 0.2)
    soft_rate = _rate(alone_rows, {"capped"}, s0, s1)
    hard_rate = _rate(hard, {"capped"}, h0, h1)
    report.results = {
        "alone_in_flight_soft": _max_in_flight(alone_rows, "capped"),
        "alone_in_flight_hard": _max_in_flight(hard, "capped"),
        "alone_per_s_soft": round(soft_rate),
        "alone_per_s_hard": round(hard_rate),
        "starts_over_cap_after_other_arrived": _starts_over_cap(soft, "capped", cap, arrived),
    }
    report.ratios = {"alone_soft_vs_hard": round(soft_rate / hard_rate, 3) if hard_rate else 0.0}
    return report
