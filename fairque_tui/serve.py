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
from dataclasses import dataclass

import click

from fairque.core.config import FairQueueConfig
from fairque.util import mask_url


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


@dataclass(frozen=True)
class Listen:
    host: str
    port: int
    public_url: str | None = None  # the URL browsers use, when it is not host:port


def session_command(config: FairQueueConfig, config_path: str | None, read_only: bool,
                    refresh: float) -> str:  # fmt: skip
    """The shell command textual-serve runs for each browser session (no URL: it travels in
    the environment)."""
    argv = [sys.executable, "-m", "fairque_tui.cli", "connect", "--refresh", str(refresh),
            "--queue", config.queue.name]  # fmt: skip
    if config_path is not None:
        argv += ["--config", os.path.abspath(config_path)]
    if config.redis.cluster:
        argv.append("--cluster")
    if read_only:
        argv.append("--read-only")
    return shlex.join(argv)


def serve_dashboard(
    config: FairQueueConfig,
    config_path: str | None,
    listen: Listen,
    read_only: bool,
    refresh: float,
) -> None:
    from textual_serve.server import Server

    os.environ["FAIRQUE_REDIS_URL"] = config.redis.url
    host, port = listen.host, listen.port
    if not is_loopback(host):
        click.echo(
            f"warning: listening on {host}: anyone who can reach port {port} sees the queue "
            "(the page has no login)"
            + ("" if read_only else " and can requeue, drain and pause (--read-write)")
            + "; put it behind an authenticating proxy",
            err=True,
        )
    public_url = listen.public_url
    if public_url is None and host in ("0.0.0.0", "::"):
        public_url = f"http://{socket.gethostname()}:{port}"
    mode = "read-only" if read_only else "read-write"
    click.echo(f"fairque dashboard for {mask_url(config.redis.url)} queue {config.queue.name!r} "
               f"({mode})", err=True)  # fmt: skip
    command = session_command(config, config_path, read_only, refresh)
    Server(command, host=host, port=port, title="fairque", public_url=public_url).serve()
