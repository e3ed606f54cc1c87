"""``fairque-tui connect [URL]``, ``fairque-tui serve [URL]`` and ``fairque-tui demo``."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
from textual.pilot import Pilot

from fairque.core.config import FairQueueConfig
from fairque.core.exceptions import FairQueueError

REFRESH = click.option(
    "--refresh", type=click.FloatRange(min=0.2), default=2.0, show_default=True,
    help="Seconds between fetches (the next starts when the last one finished).",
)  # fmt: skip


@click.group()
@click.version_option(package_name="fairque", prog_name="fairque-tui")
def main() -> None:
    """fairque's live dashboard: per-user queues, DLQ, workers, schedules, alerts, bench."""


def connection_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """URL, --queue, --config, --cluster: where the queue is (connect and serve alike)."""
    for option in reversed([
        click.argument("url", required=False, envvar="FAIRQUE_REDIS_URL"),
        click.option("--queue", envvar="FAIRQUE_QUEUE", help="Queue name (env FAIRQUE_QUEUE)."),
        click.option("--config", "config_path", envvar="FAIRQUE_CONFIG",
                     type=click.Path(dir_okay=False),
                     help="Config file (default ./fairque.toml)."),
        click.option("--cluster", is_flag=True, help="URL is a node of a Redis/Valkey Cluster."),
    ]):  # fmt: skip
        f = option(f)
    return f


def load_config(
    url: str | None, queue: str | None, config_path: str | None, cluster: bool
) -> FairQueueConfig:
    """The config file and env, with the command line on top; a bad one is one line, exit 1."""
    overrides: dict[str, Any] = {}
    redis: dict[str, Any] = {"cluster": True} if cluster else {}
    if url is not None:
        redis["url"] = url
    if redis:
        overrides["redis"] = redis
    if queue is not None:
        overrides["queue"] = {"name": queue}
    try:
        return FairQueueConfig.load(config_path, **overrides)
    except FairQueueError as exc:
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)
        sys.exit(1)


@main.command()
@connection_options
@click.option("--read-only", is_flag=True, help="Hide and refuse every change.")
@REFRESH
def connect(
    url: str | None,
    queue: str | None,
    config_path: str | None,
    cluster: bool,
    read_only: bool,
    refresh: float,
) -> None:
    """Watch (and operate) the queue on the server at URL."""
    from fairque_tui.app import FairqueApp
    from fairque_tui.source import LiveSource

    source = LiveSource(load_config(url, queue, config_path, cluster), read_only=read_only)
    FairqueApp(source, refresh_seconds=refresh).run()  # closes the source as it ends


@main.command()
@connection_options
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback: this machine only).")  # fmt: skip
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@click.option("--public-url", help="The URL browsers use, behind a proxy or on another host.")
@click.option("--read-only/--read-write", default=True, show_default=True,
              help="Read-only unless asked: no requeue, drain or pause.")  # fmt: skip
@REFRESH
def serve(
    url: str | None,
    queue: str | None,
    config_path: str | None,
    cluster: bool,
    host: str,
    port: int,
    public_url: str | None,
    read_only: bool,
    refresh: float,
) -> None:
    """The same dashboard in a web browser (each browser tab runs its own session)."""
    from fairque_tui.serve import Listen, serve_dashboard

    config = load_config(url, queue, config_path, cluster)
    serve_dashboard(config, config_path, Listen(host, port, public_url), read_only, refresh)


@main.command()
@REFRESH
@click.option(
    "--screenshot",
    type=click.Path(dir_okay=False),
    help="Save an SVG of the screen after --after seconds and exit (for docs).",
)
@click.option("--after", type=click.FloatRange(min=1), default=20.0, show_default=True)
@click.option("--size", default="120x36", show_default=True, help="Screenshot size, COLSxROWS.")
def demo(refresh: float, screenshot: str | None, after: float, size: str) -> None:
    """An embedded Valkey with demo producers and workers (as `fairque demo`), in the TUI."""
    shot = None
    if screenshot:
        cols, _, rows = size.partition("x")
        if not (cols.isdigit() and rows.isdigit()):
            raise click.BadParameter("COLSxROWS, e.g. 120x36", param_hint="--size")
        shot = Screenshot(screenshot, after, (int(cols), int(rows)))
    run_demo_tui(refresh, shot=shot)


@dataclass(frozen=True)
class Screenshot:
    """Run headless, save the screen as SVG after ``after`` seconds, then quit."""

    path: str
    after: float
    size: tuple[int, int]

    async def __call__(self, pilot: Pilot[object]) -> None:
        await asyncio.sleep(self.after)
        await pilot.pause()
        folder, name = os.path.split(os.path.abspath(self.path))
        pilot.app.save_screenshot(name, path=folder)
        pilot.app.exit()


def run_demo_tui(
    refresh: float = 1.0, url: str | None = None, shot: Screenshot | None = None
) -> None:
    """Run the demo (on ``url``, else a fresh embedded Valkey) and show it until the TUI quits."""
    from fairque.demo import DemoRun
    from fairque.server import EmbeddedServer
    from fairque_tui.app import FairqueApp
    from fairque_tui.source import LiveSource

    server = None if url else EmbeddedServer().start()
    try:
        # 20 ms tasks: the noisy user's flood lasts minutes, so fair service stays visible.
        run = DemoRun(url or server.url, work_seconds=0.02).start()  # type: ignore[union-attr]
        source = LiveSource(run.config)
        try:
            app = FairqueApp(source, refresh_seconds=refresh)
            if shot is None:
                app.run()
            else:
                app.run(headless=True, size=shot.size, auto_pilot=shot)
        finally:
            run.stop()
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
