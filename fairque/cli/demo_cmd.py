"""``fairque demo``: an embedded Valkey, a noisy user and eleven quiet ones, fair workers."""

from __future__ import annotations

import logging
import sys

import click

from fairque.cli.format import ms
from fairque.cli.output import console, show_table
from fairque.demo import run_demo
from fairque.extras import installed
from fairque.server import EmbeddedServer
from fairque.util import mask_url


@click.command()
@click.option("--headless", is_flag=True, help="No TUI: print the per-user summary at the end.")
@click.option("--duration", default=10.0, show_default=True, type=click.FloatRange(min=1))
@click.pass_context
def demo(ctx: click.Context, headless: bool, duration: float) -> None:
    """Embedded Valkey, producers for a dozen users (one noisy), and fair workers."""
    url = ctx.obj.redis_url
    terminal = not headless and not ctx.obj.json and sys.stdout.isatty() and sys.stdin.isatty()
    if terminal and installed("tui"):
        from fairque_tui.cli import run_demo_tui  # the TUI only when there is a terminal

        run_demo_tui(url=url)
        return
    if terminal:
        console.print("(the dashboard needs the 'tui' extra: pip install 'fairque[tui]'; "
                      "a summary instead)", highlight=False)  # fmt: skip
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
