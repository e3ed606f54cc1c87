"""``fairque bench``: the benchmark scenarios, as a table, a chart, JSON and chart files."""

from __future__ import annotations

import json as jsonlib
from collections.abc import Iterator
from typing import Any

import click
from rich.status import Status

from fairque.bench import ALL, SCENARIOS, TARGETED, BenchReport
from fairque.bench.common import SINGLE, Progress, Target
from fairque.cli.chart_files import CHART_SUFFIXES, check_png_support, save_charts
from fairque.cli.charts import bars_of, chart
from fairque.cli.output import console, show_table
from fairque.cli.tables import Col


@click.command()
@click.option("--scenario", type=click.Choice([*SCENARIOS, "all"]), default="throughput",
              show_default=True)  # fmt: skip
@click.option("--tasks", type=click.IntRange(min=100), default=5000, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, writable=True), multiple=True,
              help="Also write the results to FILE: a chart for .svg or .png, else the JSON "
              "document(s). Repeatable.")  # fmt: skip
@click.option("--partitions", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="Partitions of the benchmark queue (throughput, drain).")  # fmt: skip
@click.option("--partition-pick", type=click.Choice(["fair", "sticky"]), default="fair",
              show_default=True, help="How poppers pick a partition.")  # fmt: skip
@click.pass_context
def bench(
    ctx: click.Context,
    scenario: str,
    tasks: int,
    out: tuple[str, ...],
    partitions: int,
    partition_pick: str,
) -> None:
    """Run benchmark scenarios (against --redis-url, or a fresh embedded Valkey).

    Prints a table and a chart of each scenario's figures; `--out results.json --out
    results.svg` also saves them."""
    names = list(ALL) if scenario == "all" else [scenario]
    charts_out = [p for p in out if p.lower().endswith(CHART_SUFFIXES)]
    if any(p.lower().endswith(".png") for p in charts_out):
        check_png_support()  # before a long run, not after it
    target = Target(cluster=ctx.obj.cluster, partitions=partitions, partition_pick=partition_pick)
    if target != SINGLE:
        if not ctx.obj.redis_url and target.cluster:
            raise click.UsageError("--cluster needs --redis-url (a node of the cluster)")
        unsupported = [n for n in names if n not in TARGETED]
        if unsupported:
            raise click.UsageError(
                f"--cluster/--partitions apply to {', '.join(TARGETED)}; not to "
                + ", ".join(unsupported)
            )
    reports: list[BenchReport] = []
    for name in names:
        with console.status(f"running {name}...") as status:
            progress = _status_updater(status, name)
            if name in TARGETED:
                report = TARGETED[name](ctx.obj.redis_url, tasks, progress, target)
            else:
                report = SCENARIOS[name](ctx.obj.redis_url, tasks, progress)
            reports.append(report)
    docs = [r.model_dump(mode="json", exclude_none=True) for r in reports]
    for path in out:
        if path in charts_out:
            save_charts([b for b in map(bars_of, reports) if b is not None], path)
            continue
        with open(path, "w", encoding="utf-8") as fh:
            jsonlib.dump(docs[0] if len(docs) == 1 else docs, fh, indent=2)
    if ctx.obj.json:
        click.echo(jsonlib.dumps(docs[0] if len(docs) == 1 else docs))
        return
    for report in reports:
        _print_report(report)
        drawn = chart(report)
        if drawn:
            console.out(drawn, highlight=False)


def _status_updater(status: Status, scenario: str) -> Progress:
    def update(message: str, figure: tuple[str, float] | None = None) -> None:
        status.update(f"{scenario}: {message}")

    return update


def _flat(results: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """``a[b][c]``-named rows of nested results."""
    for key, value in results.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            yield from _flat(value, name)
        else:
            yield name, f"{value:,}" if isinstance(value, int | float) else str(value)


def _print_report(report: BenchReport) -> None:
    s = report.server
    rows = list(_flat(report.results))
    rows += [(f"FIFO {name}", value) for name, value in _flat(report.control or {})]
    rows += [(f"ratio {key}", f"{value}") for key, value in report.ratios.items()]
    show_table(
        f"{report.scenario} — {s['server']} {s['version']}, redis-py {s['redis_py']} "
        f"({s['parser']}), {s['cores']} cores",
        [Col("figure", wrap=True, left=True), "value"],
        rows,
    )
