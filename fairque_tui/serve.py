"""``fairque-tui serve``: the dashboard in a web browser, through textual-serve.

textual-serve starts one ``fairque-tui connect`` process per browser tab and relays the
terminal over a websocket. The server's URL (which may hold a password) reaches those
processes through the environment, never their command line. Local-only and read-only
unless asked: the page has no authentication of its own.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import socket
import sys

import click

from fairque.core.config import FairQueueConfig
from fairque.core.exceptions import FairQueueError
from fairque.util import mask_url


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def session_command(queue: str | None, config_path: str | None, cluster: bool,
                    read_only: bool, refresh: float) -> str:  # fmt: skip
    """The shell command textual-serve runs for each browser session."""
    argv = [sys.executable, "-m", "fairque_tui.cli", "connect", "--refresh", str(refresh)]
    if queue is not None:
        argv += ["--queue", queue]
    if config_path is not None:
        argv += ["--config", os.path.abspath(config_path)]
    if cluster:
        argv.append("--cluster")
    if read_only:
        argv.append("--read-only")
    return shlex.join(argv)


def serve_dashboard(
    *,
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
    from textual_serve.server import Server

    overrides: dict[str, object] = {}
    redis: dict[str, object] = {"cluster": True} if cluster else {}
    if url is not None:
        redis["url"] = url
    if redis:
        overrides["redis"] = redis
    if queue is not None:
        overrides["queue"] = {"name": queue}
    try:  # a bad URL or config fails here, once, not in every browser tab
        config = FairQueueConfig.load(config_path, **overrides)
    except FairQueueError as exc:
        click.echo(f"error: {' '.join(str(exc).split())}", err=True)
        sys.exit(1)
    os.environ["FAIRQUE_REDIS_URL"] = config.redis.url
    if not is_loopback(host):
        click.echo(
            f"warning: listening on {host}: anyone who can reach port {port} sees the queue "
            "(the page has no login)"
            + ("" if read_only else " and can requeue, drain and pause (--read-write)")
            + "; put it behind an authenticating proxy",
            err=True,
        )
    if public_url is None and host in ("0.0.0.0", "::"):
        public_url = f"http://{socket.gethostname()}:{port}"
    command = session_command(config.queue.name if queue else None, config_path, cluster,
                              read_only, refresh)  # fmt: skip
    mode = "read-only" if read_only else "read-write"
    click.echo(f"fairque dashboard for {mask_url(config.redis.url)} queue {config.queue.name!r} "
               f"({mode})", err=True)  # fmt: skip
    Server(command, host=host, port=port, title="fairque", public_url=public_url).serve()
