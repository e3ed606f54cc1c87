"""Terminal charts for benchmark reports (plotext; only the CLI draws)."""

from __future__ import annotations

import sys
from typing import Any

import plotext as plt

from fairque.bench import BenchReport


def _bars(title: str, labels: list[str], values: list[float]) -> str:
    plt.clear_figure()
    plt.simple_bar(labels, values, width=70, title=title)
    text: str = plt.build()
    # No colour codes in files and pipes.
    return text if sys.stdout.isatty() else str(plt.uncolorize(text))


def chart(report: BenchReport) -> str | None:
    """A bar chart of the figures a picture says most about, or None."""
    r: dict[str, Any] = report.results
    if report.scenario == "throughput":
        keys = ["push_per_s", "push_batch_per_s", "pop_complete_per_s", "e2e_per_s"]
        return _bars(
            "tasks per second", [k.removesuffix("_per_s") for k in keys], [r[k] for k in keys]
        )
    if report.scenario == "scale-users":
        by = r["pop_per_s_by_users"]
        return _bars("pops per second by configured users", list(by), list(by.values()))
    if report.scenario == "drain":
        by = r["e2e_per_s"]
        return _bars("no-op tasks drained per second", list(by), list(by.values()))
    if report.scenario == "fairness" and report.control:
        labels = ["fairque", "unloaded", "FIFO"]
        values = [
            r["light_p99_wait_ms"],
            r["light_p99_wait_unloaded_ms"],
            report.control["light_p99_wait_ms"],
        ]
        return _bars("light users' p99 wait (ms)", labels, values)
    return None
