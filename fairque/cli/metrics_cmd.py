"""``fairque metrics serve|dump``: Prometheus metrics of the queue."""

from __future__ import annotations

import signal

import click

from fairque.cli.context import CliContext, pass_cli
from fairque.cli.output import StopFlag
from fairque.monitoring import Inspector
from fairque.monitoring.metrics import dump, serve


@click.group()
def metrics() -> None:
    """Prometheus metrics."""


@metrics.command("serve")
@click.option("--port", type=click.IntRange(1, 65535), default=9808, show_default=True)
@click.option("--addr", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--top-users", type=click.IntRange(1, 10_000), default=50, show_default=True,
              help="Users with their own series; the rest sum to user=_other.")  # fmt: skip
@pass_cli
def metrics_serve(cli: CliContext, port: int, addr: str, top_users: int) -> None:
    """Serve /metrics until SIGTERM/SIGINT (each scrape reads the queue)."""
    inspector = Inspector(cli.config())
    server = serve(inspector, port=port, addr=addr, top_users=top_users)
    click.echo(f"serving metrics on http://{addr}:{port}/metrics")
    stop = StopFlag()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop.set)
    while not stop.wait(1.0):
        pass
    server.shutdown()
    inspector.close()


@metrics.command("dump")
@click.option("--top-users", type=click.IntRange(1, 10_000), default=50, show_default=True)
@pass_cli
def metrics_dump(cli: CliContext, top_users: int) -> None:
    """Print one scrape in the Prometheus text format."""
    with Inspector(cli.config()) as inspector:
        click.echo(dump(inspector, top_users), nl=False)
