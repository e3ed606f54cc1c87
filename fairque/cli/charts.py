"""Charts of benchmark reports: which figures a picture says most about, drawn in the terminal
with plotext (as the TUI's bench screen does). ``chart_files`` writes the same bars to SVG/PNG.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from fairque.bench import BenchReport


@dataclass(frozen=True)
class Bars:
    title: str
    labels: list[str]
    values: list[float]
    unit: str = ""


def bars_of(report: BenchReport) -> Bars | None:
    """The bars for one report, or None when it has nothing to draw."""
    r: dict[str, Any] = report.results
    name = report.scenario
    if name == "throughput":
        keys = ["push_per_s", "push_batch_per_s", "pop_complete_per_s", "e2e_per_s"]
        keys = [k for k in keys if k in r]
        return Bars("throughput: tasks per second", [k.removesuffix("_per_s") for k in keys],
                    [float(r[k]) for k in keys], "/s")  # fmt: skip
    if name == "scale-users":
        by = r["pop_per_s_by_users"]
        return Bars("scale-users: pops per second by configured users", [str(k) for k in by],
                    [float(v) for v in by.values()], "/s")  # fmt: skip
    if name == "drain":
        by = r["e2e_per_s"]
        return Bars("drain: no-op tasks drained per second", [str(k) for k in by],
                    [float(v) for v in by.values()], "/s")  # fmt: skip
    if name == "fairness" and report.control:
        return Bars(
            "fairness: light users' p99 wait (ms)",
            ["fairque", "no flood", "FIFO"],
            [float(r["light_p99_wait_ms"]), float(r["light_p99_wait_unloaded_ms"]),
             float(report.control["light_p99_wait_ms"])],
            "ms",
        )  # fmt: skip
    if name == "weights":
        shares = r["shares"]
        return Bars("weights: share of dispatches by user (%)", list(shares),
                    [round(100 * float(v), 1) for v in shares.values()], "%")  # fmt: skip
    if name == "partitions":
        labels = list(r)
        return Bars("partitions: worst user's share / fair share", labels,
                    [float(r[k]["worst_share_vs_fair"]) for k in labels])  # fmt: skip
    if name == "capacity":
        node, core = r["one_node_tasks_per_s"], r["one_worker_core_tasks_per_s"]
        labels = [f"node ({k})" for k in node] + [f"worker core ({k})" for k in core]
        return Bars("capacity: tasks/s one core carries", labels,
                    [float(v) for v in [*node.values(), *core.values()]], "/s")  # fmt: skip
    if name == "latency":
        labels = [f"{k} {w}" for k in ("threads", "asyncio") for w in ("idle", "flood")]
        return Bars("latency: enqueue -> start p99 (ms), idle and under a flood", labels,
                    [float(r[k][w]["start_p99_ms"]) for k in ("threads", "asyncio")
                     for w in ("idle", "flood")], "ms")  # fmt: skip
    if name == "dag" and report.control:
        return Bars("dag: light tenants' 3-step chains, p50 (ms)",
                    ["alone", "during the DAGs", "FIFO"],
                    [float(r["alone"]["chain_p50_ms"]), float(r["loaded"]["chain_p50_ms"]),
                     float(report.control["chain_p50_ms"])], "ms")  # fmt: skip
    suite = _suite_bars(name, r, report.control or {})
    if suite is not None:
        return suite
    if name == "inspect":
        keys = [k for k in ("overview_ms", "users_page50_ms") if k in r]
        return Bars("inspect: Inspector reads (ms)", [k.removesuffix("_ms") for k in keys],
                    [float(r[k]) for k in keys], "ms")  # fmt: skip
    return None


def _suite_bars(name: str, r: dict[str, Any], control: dict[str, Any]) -> Bars | None:
    """The fairness suite's scenarios, each with its FIFO control; the suite's headlines."""
    if name == "adversarial-skew":
        return Bars("adversarial-skew: light users' median p90 wait (ms)", ["fairque", "FIFO"],
                    [float(r["light_p_of_p_ms"]), float(control["light_p_of_p_ms"])],
                    "ms")  # fmt: skip
    if name == "sybil":
        return Bars("sybil: the splitting tenant's share of dispatches (%)",
                    ["tenants", "no tenants", "FIFO", "fair"],
                    [100 * float(v) for v in (r["splitter_share_with_tenants"],
                     r["splitter_share_without_tenants"], control["splitter_share_fifo"],
                     r["fair_share"])], "%")  # fmt: skip
    if name == "trickle":
        return Bars("trickle: light users' p99 wait (ms)", ["during flood", "unloaded", "FIFO"],
                    [float(r["light_p99_ms"]), float(r["light_p99_unloaded_ms"]),
                     float(control["light_p99_ms"])], "ms")  # fmt: skip
    if name == "heavy-idle":
        keys = ["count_per_s", "time_per_s", "time_tenant_per_s"]
        return Bars("heavy-idle: a lone user's tasks per second", ["by count", "by time",
                    "by time, tenant", "FIFO"], [float(r[k]) for k in keys] +
                    [float(control["fifo_per_s"])], "/s")  # fmt: skip
    if name == "cost-skew":
        return Bars("cost-skew: the 10x-longer user's share of worker time (%)",
                    ["by time", "by count", "FIFO"],
                    [100 * float(r["long_time_share_by_time"]),
                     100 * float(r["long_time_share_by_count"]),
                     100 * float(control["long_time_share_fifo"])], "%")  # fmt: skip
    if name == "rate-limit":
        return Bars("rate-limit: tasks per second", ["limited (200/s)", "others", "others alone"],
                    [float(r["limited_per_s"]), float(r["others_per_s"]),
                     float(r["others_per_s_without_it"])], "/s")  # fmt: skip
    if name == "soft-cap":
        return Bars("soft-cap: a capped user alone, tasks per second", ["soft cap", "hard cap"],
                    [float(r["alone_per_s_soft"]), float(r["alone_per_s_hard"])], "/s")  # fmt: skip
    if name == "fairness-suite":
        heads = {
            "skew Jain": r.get("adversarial-skew", {}).get("jain_median"),
            "sybil Jain": r.get("sybil", {}).get("jain_with_tenants"),
            "cost Jain (time)": r.get("cost-skew", {}).get("jain_time_by_time"),
        }
        shown = {k: float(v) for k, v in heads.items() if v is not None}
        return Bars("fairness-suite: Jain's index (1 = perfectly fair)", list(shown),
                    list(shown.values())) if shown else None  # fmt: skip
    return None


def terminal_chart(bars: Bars, width: int = 70) -> str:
    """The bars drawn by plotext (the ``tui`` extra), or as plain text without it."""
    try:
        import plotext as plt
    except ImportError:
        return text_bars(bars, width)
    plt.clear_figure()
    plt.simple_bar(bars.labels, bars.values, width=width, title=bars.title)
    text: str = plt.build()
    # No colour codes in files and pipes.
    return text if sys.stdout.isatty() else str(plt.uncolorize(text))


def text_bars(bars: Bars, width: int = 70) -> str:
    """A bar chart in plain characters (the plain install has no plotext)."""
    label_w = max((len(label) for label in bars.labels), default=0)
    top = max(bars.values, default=0.0) or 1.0
    room = max(width - label_w - 14, 10)
    lines = [bars.title]
    for label, value in zip(bars.labels, bars.values, strict=True):
        bar = "#" * max(round(room * value / top), 1 if value else 0)
        lines.append(f"{label:<{label_w}} {bar} {value:,.2f}{bars.unit}")
    return "\n".join(lines)


def chart(report: BenchReport) -> str | None:
    """The terminal chart of one report, or None."""
    bars = bars_of(report)
    return terminal_chart(bars) if bars else None
