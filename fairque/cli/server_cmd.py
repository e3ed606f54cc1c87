"""``fairque server``: the embedded Valkey (or a local cluster) in the foreground."""

from __future__ import annotations

import signal

import click

from fairque.cli.output import StopFlag, console
from fairque.cluster_server import EmbeddedCluster
from fairque.core.exceptions import PortInUse
from fairque.server import EmbeddedServer


@click.command()
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
        try:
            srv.start()
        except PortInUse:
            raise click.ClickException(
                f"port {port} is taken (another server listens there?): choose one with --port"
            ) from None
        console.print(f"Valkey ({srv.binary}) listening on {srv.url}; data in {srv.directory}")
        console.print("export FAIRQUE_REDIS_URL=" + srv.url)
        while not stop.wait(0.5):
            if srv.process is None or srv.process.poll() is not None:
                raise click.ClickException("the server exited; see " + str(srv.log_path))
    finally:
        srv.stop()
        console.print("server stopped")
