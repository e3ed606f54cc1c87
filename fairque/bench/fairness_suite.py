"""The fairness suite (``fairque bench --scenario fairness-suite``, each also alone): the cases
users of fair queues keep asking about, each measured against a plain FIFO list in the same run,
with Jain's index next to the percentile of percentiles (the median over users of each user's
p90 wait). ``docs/fairness.md`` explains the semantics and each scenario.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from fairque.bench.common import BenchReport, Progress, bench_server, quiet, server_facts
from fairque.bench.flow_control import run_rate_limit, run_soft_cap
from fairque.bench.workload import (
    CONCURRENCY,
    Dispatch,
    Stream,
    done_when_served,
    jain,
    p_of_p,
    percentile,
    run_fairque,
    run_fifo,
    span,
    waits,
    while_all_backlogged,
    worker_time,
)

WORK = 0.001  # seconds a no-op-like task holds a worker
WINDOW = 100  # dispatches per Jain window


def _window_jain(rows: Sequence[Dispatch]) -> float | None:
    """Median Jain's index over windows of WINDOW dispatches, among the groups (tenants, or
    users) with work for the whole window (their last dispatch is after it)."""
    ordered = sorted(rows, key=lambda d: d.started)
    last = {d.group: i for i, d in enumerate(ordered)}
    out = []
    for start in range(0, len(ordered) - WINDOW + 1, WINDOW):
        end = start + WINDOW
        live = [g for g, i in last.items() if i >= end]
        if len(live) >= 2:
            got: dict[str, float] = {}
            for d in ordered[start:end]:
                got[d.group] = got.get(d.group, 0.0) + 1
            out.append(jain(got, dict.fromkeys(live, WINDOW / len(live))))
    return round(statistics.median(out), 4) if out else None


def _report(name: str, url: str, params: dict[str, Any]) -> BenchReport:
    return BenchReport(
        scenario=name,
        server=server_facts(url),
        params={"concurrency": CONCURRENCY, **params},
    )


def _flood_and_light(flood: int, light_users: int, light_each: int) -> list[Stream]:
    lights = [Stream(f"light-{i}", light_each, WORK) for i in range(light_users)]
    return [Stream("flood", flood, WORK, tenant="flooder"), *lights]


def run_adversarial_skew(
    redis_url: str | None = None, tasks: int = 10_000, progress: Progress = quiet
) -> BenchReport:
    """One tenant floods (``tasks`` queued first), then 9 light users with 100 tasks each."""
    streams = _flood_and_light(tasks, 9, 100)
    light = {s.user for s in streams[1:]}
    stop = done_when_served(light, 900)
    with bench_server(redis_url) as url:
        params = {"flood_tasks": tasks, "light_users": 9, "light_tasks_each": 100, "work_ms": 1}
        report = _report("adversarial-skew", url, params)
        progress("flood, then light users: fairque")
        fair = run_fairque(url, streams, stop)
        progress("the same through a FIFO list")
        fifo = run_fifo(url, streams, stop)
    for label, rows in (("fairque", fair), ("fifo", fifo)):
        figures = {
            "jain_median": _window_jain(rows),
            "light_p_of_p_ms": round(p_of_p(rows, light), 1),
            "light_p99_ms": round(percentile(waits(rows, light), 0.99), 1),
        }
        if label == "fairque":
            report.results = figures
        else:
            report.control = figures
    assert report.control is not None
    report.ratios = {
        "p_of_p_vs_fifo": _ratio(report.results["light_p_of_p_ms"],
                                 report.control["light_p_of_p_ms"]),
    }  # fmt: skip
    return report


def _share(rows: Sequence[Dispatch], is_member: Callable[[str], bool]) -> float:
    """The members' share of the dispatches in the run's measured interval."""
    start, end = span(rows)
    measured = [d for d in rows if start <= d.started <= end]
    return sum(1 for d in measured if is_member(d.user)) / len(measured) if measured else 0.0


def run_sybil(redis_url: str | None = None, tasks: int = 10_000, progress: Progress = quiet,
              seconds: float = 10) -> BenchReport:  # fmt: skip
    """One tenant over 100 user ids against 10 single-id tenants, all backlogged: the
    splitter's share of dispatches with tenants (1/11 is fair), without them, and by FIFO."""
    # Half the tasks on each side; each run stops when the first user runs dry.
    each_sybil = max(tasks // 200, 5)
    each_single = max(tasks // 20, 50)

    def streams(tenants: bool) -> list[Stream]:
        sybil = [
            Stream(f"s-{i}", each_sybil, WORK, tenant="splitter" if tenants else None)
            for i in range(100)
        ]
        singles = [
            Stream(f"t-{i}", each_single, WORK, tenant=f"t-{i}" if tenants else None)
            for i in range(10)
        ]
        return [*sybil, *singles]

    def splitter(user: str) -> bool:
        return user.startswith("s-")

    with bench_server(redis_url) as url:
        params = {"splitter_user_ids": 100, "single_id_tenants": 10, "tasks_per_id": each_sybil,
                  "tasks_per_single": each_single,
                  "seconds": seconds, "work_ms": 1}  # fmt: skip
        report = _report("sybil", url, params)
        progress("with tenants")
        with_t = run_fairque(url, streams(True), while_all_backlogged(streams(True), seconds))
        progress("without tenants", ("splitter share, tenants", _share(with_t, splitter)))
        without = run_fairque(url, streams(False), while_all_backlogged(streams(False), seconds))
        progress("FIFO control", ("splitter share, no tenants", _share(without, splitter)))
        fifo = run_fifo(url, streams(False), while_all_backlogged(streams(False), seconds))
    fair_share = 1 / 11
    got = _share(with_t, splitter)
    report.results = {
        "splitter_share_with_tenants": round(got, 4),
        "splitter_share_without_tenants": round(_share(without, splitter), 4),
        "fair_share": round(fair_share, 4),
        "jain_with_tenants": _window_jain(with_t),
    }
    report.control = {"splitter_share_fifo": round(_share(fifo, splitter), 4)}
    report.ratios = {"share_error": round(abs(got - fair_share) / fair_share, 4)}
    return report


def run_trickle(
    redis_url: str | None = None, tasks: int = 10_000, progress: Progress = quiet
) -> BenchReport:
    """Light users push at a steady slow rate (5 users x 10/s) while one tenant's flood is
    queued: their waits under the flood, alone (unloaded), and through FIFO. The flood (4x
    ``tasks``) outlasts the light pushes (``tasks / 100`` each, at most 50: 5 s)."""
    each = max(5, min(50, tasks // 100))
    lights = [Stream(f"light-{i}", each, WORK, rate=10.0) for i in range(5)]
    names = {s.user for s in lights}
    flood = Stream("flood", 4 * tasks, WORK, tenant="flooder")
    stop = done_when_served(names, 5 * each)
    with bench_server(redis_url) as url:
        report = _report("trickle", url, {"flood_tasks": flood.count, "light_users": 5,
                                          "light_rate_per_s": 10, "light_tasks_each": each,
                                          "work_ms": 1})  # fmt: skip
        progress("light users alone")
        alone = run_fairque(url, lights, stop)
        progress("light users during the flood")
        loaded = run_fairque(url, [flood, *lights], stop)
        progress("the same through a FIFO list")
        fifo = run_fifo(url, [flood, *lights], stop)
    p99 = percentile(waits(loaded, names), 0.99)
    p99_alone = percentile(waits(alone, names), 0.99)
    p99_fifo = percentile(waits(fifo, names), 0.99)
    report.results = {
        "light_p99_ms": round(p99, 1),
        "light_p99_unloaded_ms": round(p99_alone, 1),
        "light_p_of_p_ms": round(p_of_p(loaded, names), 1),
    }
    report.control = {
        "light_p99_ms": round(p99_fifo, 1),
        "light_p_of_p_ms": round(p_of_p(fifo, names), 1),
    }
    report.ratios = {
        "p99_vs_unloaded": _ratio(p99, p99_alone),
        "p99_vs_fifo": _ratio(p99, p99_fifo),
    }
    return report


def _rate(rows: Sequence[Dispatch]) -> float:
    first = min(d.started for d in rows)
    last = max(d.ended for d in rows)
    return len(rows) / (last - first) if last > first else 0.0


def run_heavy_idle(
    redis_url: str | None = None, tasks: int = 8000, progress: Progress = quiet, repeats: int = 3
) -> BenchReport:
    """One user alone must use every worker: its throughput with fairness by time and with a
    tenant, against fairness by count (best of ``repeats``, interleaved), and a FIFO list."""
    solo = [Stream("solo", tasks, 0.0)]
    tenanted = [Stream("solo", tasks, 0.0, tenant="acme")]
    stop = done_when_served({"solo"}, tasks)
    rates: dict[str, list[float]] = {"count": [], "time": [], "time_tenant": [], "fifo": []}
    with bench_server(redis_url) as url:
        report = _report("heavy-idle", url, {"tasks": tasks, "work_ms": 0, "repeats": repeats})
        for round_ in range(repeats):
            progress(f"round {round_ + 1}: by count, by time, by time with a tenant, FIFO")
            rates["count"].append(_rate(run_fairque(url, solo, stop)))
            rates["time"].append(_rate(run_fairque(url, solo, stop, fairness="time")))
            rates["time_tenant"].append(_rate(run_fairque(url, tenanted, stop, fairness="time")))
            rates["fifo"].append(_rate(run_fifo(url, solo, stop)))
    best = {k: max(v) for k, v in rates.items()}
    report.results = {f"{k}_per_s": round(v) for k, v in best.items() if k != "fifo"}
    report.control = {"fifo_per_s": round(best["fifo"])}
    report.ratios = {
        "time_vs_count": _ratio(best["time"], best["count"]),
        "time_tenant_vs_count": _ratio(best["time_tenant"], best["count"]),
    }
    return report


def run_cost_skew(
    redis_url: str | None = None, tasks: int = 4000, progress: Progress = quiet, seconds: float = 6
) -> BenchReport:
    """Two equally weighted users, one's tasks 10x longer (20 ms vs 2 ms), both backlogged:
    shares of worker time with fairness by time, by count, and through FIFO."""
    streams = [Stream("long", tasks, 0.020), Stream("short", tasks, 0.002)]
    stop = while_all_backlogged(streams, seconds)
    with bench_server(redis_url) as url:
        report = _report("cost-skew", url, {"tasks_each": tasks, "long_ms": 20, "short_ms": 2,
                                            "seconds": seconds})  # fmt: skip
        progress("fairness by time")
        by_time = run_fairque(url, streams, stop, fairness="time")
        progress("fairness by count")
        by_count = run_fairque(url, streams, stop)
        progress("FIFO control")
        fifo = run_fifo(url, streams, stop)

    def long_share(rows: Sequence[Dispatch]) -> float:
        start, end = span(rows)
        got = worker_time(rows, start, end)
        total = sum(got.values())
        return got.get("long", 0.0) / total if total else 0.0

    def time_jain(rows: Sequence[Dispatch]) -> float:
        start, end = span(rows)
        got = worker_time(rows, start, end)
        total = sum(got.values())
        return round(jain(got, dict.fromkeys(("long", "short"), total / 2)), 4)

    share_time = long_share(by_time)
    report.results = {
        "long_time_share_by_time": round(share_time, 4),
        "long_time_share_by_count": round(long_share(by_count), 4),
        "jain_time_by_time": time_jain(by_time),
        "jain_time_by_count": time_jain(by_count),
    }
    report.control = {"long_time_share_fifo": round(long_share(fifo), 4)}
    report.ratios = {"time_share_error": round(abs(share_time - 0.5) / 0.5, 4)}
    return report


def _ratio(a: float, b: float) -> float:
    return round(a / b, 4) if b else 0.0


SUITE = {
    "adversarial-skew": run_adversarial_skew,
    "sybil": run_sybil,
    "trickle": run_trickle,
    "heavy-idle": run_heavy_idle,
    "cost-skew": run_cost_skew,
    "rate-limit": run_rate_limit,
    "soft-cap": run_soft_cap,
}


def run_fairness_suite(
    redis_url: str | None = None, tasks: int | None = None, progress: Progress = quiet
) -> BenchReport:
    """Every scenario of the suite, one after the other on one server; results by scenario."""
    with bench_server(redis_url) as url:
        report = _report("fairness-suite", url, {"scenarios": list(SUITE)})
        for name, run in SUITE.items():
            progress(name)
            one = run(url) if tasks is None else run(url, tasks)
            report.results[name] = one.results
            report.params[name] = one.params
            if one.control:
                report.control = {**(report.control or {}), name: one.control}
            report.ratios.update({f"{name}.{k}": v for k, v in one.ratios.items()})
    return report
