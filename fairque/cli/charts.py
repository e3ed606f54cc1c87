"""Charts of benchmark reports: which figures a picture says most about, drawn in the terminal
with plotext (as the TUI's bench screen does). ``chart_files`` writes the same bars to SVG/PNG.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import plotext as plt

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
    if name == "inspect":
        keys = [k for k in ("overview_ms", "users_page50_ms") if k in r]
        return Bars("inspect: Inspector reads (ms)", [k.removesuffix("_ms") for k in keys],
                    [float(r[k]) for k in keys], "ms")  # fmt: skip
    return None


def terminal_chart(bars: Bars, width: int = 70) -> str:
    plt.clear_figure()
    plt.simple_bar(bars.labels, bars.values, width=width, title=bars.title)
    text: str = plt.build()
    # No colour codes in files and pipes.
    return text if sys.stdout.isatty() else str(plt.uncolorize(text))


def chart(report: BenchReport) -> str | None:
    """The terminal chart of one report, or None."""
    bars = bars_of(report)
    return terminal_chart(bars) if bars else None
