"""``fairque``: the command-line entry point."""

from __future__ import annotations

import json as jsonlib
import logging
import signal
import sys
from collections.abc import Iterator
from typing import Any

import click
from rich.console import Console
from rich.status import Status

from fairque import __version__
from fairque.bench import ALL, SCENARIOS, TARGETED, BenchReport
from fairque.bench.common import SINGLE, Progress, Target
from fairque.cli.admin_cmds import dlq, drain, pause, push, resume
from fairque.cli.chart_files import CHART_SUFFIXES, check_png_support, save_charts
from fairque.cli.charts import bars_of, chart
from fairque.cli.config_cmd import config_group
from fairque.cli.context import CliContext
from fairque.cli.format import ms
from fairque.cli.global_options import accept_after, root_options
from fairque.cli.health_cmd import health
from fairque.cli.inspect_cmds import alerts, explain, info, task, user, users
from fairque.cli.limits_cmd import tenant
from fairque.cli.metrics_cmd import metrics
from fairque.cli.output import SafetyRefusal, StopFlag, show_table
from fairque.cli.schedule_cmd import schedule, scheduler
from fairque.cli.tables import Col
from fairque.cli.worker_cmd import worker
from fairque.cluster_server import EmbeddedCluster
from fairque.core.exceptions import FairQueueError
from fairque.demo import run_demo
from fairque.monitoring import ReadOnlyError
from fairque.server import EmbeddedServer
from fairque.util import mask_url

console = Console()
errors = Console(stderr=True)


class FairqueGroup(click.Group):
    """Turns fairque's typed errors into one line on stderr and exit code 1 (no traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (SafetyRefusal, ReadOnlyError) as exc:
            click.echo(f"refused: {_one_line(exc)}", err=True)
            sys.exit(3)
        except FairQueueError as exc:
            click.echo(f"error: {_one_line(exc)}", err=True)
            sys.exit(1)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        accept_after(cmd)  # the global options after any command, defined once
        super().add_command(cmd, name)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


@click.group(cls=FairqueGroup)
@click.version_option(__version__, prog_name="fairque")
@root_options
@click.pass_context
def cli(
    ctx: click.Context,
    redis_url: str | None,
    queue: str | None,
    config_path: str | None,
    json: bool,
    read_only: bool,
    cluster: bool,
    wide: bool,
) -> None:
    """fairque: a fair, multi-tenant task queue on Redis/Valkey.

    The global options (--redis-url, --queue, --config, --json, --read-only, --cluster) may
    come before or after the command: `fairque users --json` is `fairque --json users`.
    """
    ctx.obj = CliContext(redis_url, queue, config_path, json, read_only, cluster, wide)


@cli.command()
@click.option("--headless", is_flag=True, help="No TUI: print the per-user summary at the end.")
@click.option("--duration", default=10.0, show_default=True, type=click.FloatRange(min=1))
@click.pass_context
def demo(ctx: click.Context, headless: bool, duration: float) -> None:
    """Embedded Valkey, producers for a dozen users (one noisy), and fair workers."""
    url = ctx.obj.redis_url
    if not headless and not ctx.obj.json and sys.stdout.isatty() and sys.stdin.isatty():
        from fairque_tui.cli import run_demo_tui  # the TUI only when there is a terminal

        run_demo_tui(url=url)
        return
    # The demo's failures are deliberate (the summary counts them): no log line per failure.
    logging.getLogger("fairque.tasks").setLevel(logging.ERROR)
    server = None if url else EmbeddedServer().start()
    try:
        target = url or server.url  # type: ignore[union-attr]
        if not ctx.obj.json:
            console.print(
                f"fairque demo on {mask_url(target)} for {duration:.0f} s: "
                "'noisy' floods 20,000 tasks, 11 tenants push a few at a time..."
            )
        summary = run_demo(target, duration)
    finally:
        if server is not None:
            server.stop()
    if ctx.obj.json:
        click.echo(summary.model_dump_json())
        return
    rows = [
        (u.user_id, u.pushed, u.served, f"{u.share:.1%}", u.waiting,
         ms(u.p50_wait_ms), ms(u.max_wait_ms))
        for u in summary.users
    ]  # fmt: skip
    show_table(
        f"Served in {summary.duration_s} s: {summary.served} tasks "
        f"({summary.dead} failed every attempt and are in the DLQ)",
        ["user", "pushed", "served", "share", "still queued", "p50 wait", "max wait"],
        rows,
    )
    console.print(
        "'noisy' queued thousands and its backlog waits; every tenant still got its turn in the "
        "round-robin and was served within milliseconds of pushing."
    )


@cli.command()
@click.option("--port", type=click.IntRange(1, 65535), default=6379, show_default=True)
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="Data directory (AOF on). Default: a temporary one.")  # fmt: skip
@click.option("--cluster-nodes", type=click.IntRange(min=3), default=None,
              help="Run a local Valkey Cluster of this many primaries instead.")  # fmt: skip
def server(port: int, directory: str | None, cluster_nodes: int | None) -> None:
    """Run the embedded Valkey (or a local cluster) in the foreground until Ctrl-C."""
    # Handlers first: a signal during start-up must still stop the server we started. They
    # only set a flag: taking a lock inside a signal handler can deadlock.
    stop = StopFlag()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop.set)
    if cluster_nodes is not None:
        cluster = EmbeddedCluster(cluster_nodes, directory=directory)
        try:
            cluster.start()
            console.print(f"Valkey Cluster of {cluster_nodes} primaries on ports {cluster.ports}")
            console.print(f"export FAIRQUE_REDIS_URL={cluster.url} FAIRQUE_REDIS_CLUSTER=1")
            while not stop.wait(0.5):
                if any(n.process is None or n.process.poll() is not None for n in cluster.nodes):
                    raise click.ClickException("a cluster node exited; see " + str(directory))
        finally:
            cluster.stop()
            console.print("cluster stopped")
        return
    srv = EmbeddedServer(port=port, directory=directory, appendonly=True)
    try:
        srv.start()
        console.print(f"Valkey ({srv.binary}) listening on {srv.url}; data in {srv.directory}")
        console.print("export FAIRQUE_REDIS_URL=" + srv.url)
        while not stop.wait(0.5):
            if srv.process is None or srv.process.poll() is not None:
                raise click.ClickException("the server exited; see " + str(srv.log_path))
    finally:
        srv.stop()
        console.print("server stopped")


@cli.command()
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


cli.add_command(worker)
cli.add_command(scheduler)
cli.add_command(schedule)
cli.add_command(metrics)
cli.add_command(config_group)
cli.add_command(health)
for command in (info, users, user, tenant, task, explain, alerts, push, dlq, drain, pause,
                resume):  # fmt: skip
    cli.add_command(command)


def main() -> None:
    cli()
