"""A private Valkey Cluster on loopback (three primaries by default) from the embedded binary.

For the cluster tests and for trying cluster mode by hand (``fairque server --cluster``):
the nodes are real ``valkey-server --cluster-enabled yes`` processes joined by
``valkey-cli --cluster create``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

import redis

from fairque.core.exceptions import EmbeddedServerError
from fairque.server import (
    EmbeddedServer,
    StartStop,
    bindable,
    ephemeral_ports,
    find_server_binary,
    free_port,
)

READY_TIMEOUT = 30.0
BUS_OFFSET = 10_000  # each node also listens on port + 10000 (the cluster bus)


def cluster_port(taken: set[int]) -> int:
    """A free port whose cluster-bus port (+10000) is free and valid too, neither in ``taken``.

    ``taken`` holds the ports and bus ports of the cluster's other nodes, which are not bound
    yet when all are picked: one node's port must not be another's bus port. The pair picked
    is added to it. Both stay below the kernel's ephemeral range when it leaves room.
    """
    for _ in range(200):
        port = free_port(below=ephemeral_ports()[0] - BUS_OFFSET)
        bus = port + BUS_OFFSET
        if bus > 65535 or port in taken or bus in taken or not bindable(bus):
            continue
        taken.update((port, bus))
        return port
    raise EmbeddedServerError("no free port pair for a cluster node")


def find_cli_binary(server_binary: str) -> str:
    """The ``valkey-cli``/``redis-cli`` next to the server binary, else one on PATH."""
    folder = Path(server_binary).parent
    for name in ("valkey-cli", "redis-cli"):
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
        found = shutil.which(name)
        if found:
            return found
    raise EmbeddedServerError("no valkey-cli/redis-cli found to create the cluster")


class EmbeddedCluster(StartStop):
    """``primaries`` cluster nodes (and ``replicas`` per primary), created and stopped together."""

    def __init__(
        self,
        primaries: int = 3,
        replicas: int = 0,
        directory: str | os.PathLike[str] | None = None,
    ) -> None:
        if primaries < 3:
            raise ValueError("a Valkey cluster needs at least 3 primaries")
        self.binary = find_server_binary()
        self.cli = find_cli_binary(self.binary)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fairque-cluster-")
            directory = self._tmp.name
        self.directory = Path(directory)
        self.replicas = replicas
        self.nodes: list[EmbeddedServer] = []
        taken: set[int] = set()
        for index in range(primaries * (1 + replicas)):
            node_dir = self.directory / f"node-{index}"
            args = [
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(node_dir / "nodes.conf"),
                "--cluster-node-timeout", "2000",
            ]  # fmt: skip
            node = EmbeddedServer(
                directory=node_dir,
                binary=self.binary,
                extra_args=args,
                pick_port=lambda: cluster_port(taken),
            )
            self.nodes.append(node)

    @property
    def url(self) -> str:
        """Any node's URL: the cluster client discovers the others."""
        return self.nodes[0].url

    @property
    def ports(self) -> list[int]:
        return [n.port for n in self.nodes]

    def start(self) -> Self:
        for node in self.nodes:
            # A cluster is created afresh each start: the configuration a node wrote in an
            # earlier run in this directory (other ports, other ids) would make it refuse.
            (node.directory / "nodes.conf").unlink(missing_ok=True)
            node.start()
        create = [
            self.cli, "--cluster", "create",
            *[f"127.0.0.1:{p}" for p in self.ports],
            "--cluster-replicas", str(self.replicas), "--cluster-yes",
        ]  # fmt: skip
        proc = subprocess.run(create, capture_output=True, text=True, timeout=60, check=False)
        if proc.returncode != 0:
            self.stop()
            raise EmbeddedServerError(f"cluster create failed: {proc.stdout[-500:]}")
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            states = []
            for node in self.nodes:
                client = redis.Redis(port=node.port, decode_responses=True, socket_timeout=2)
                try:
                    states.append(str(client.execute_command("CLUSTER", "INFO")))  # type: ignore[no-untyped-call]
                finally:
                    client.close()
            if all("cluster_state:ok" in s for s in states) and self._replicas_synced():
                return
            time.sleep(0.1)
        self.stop()
        raise EmbeddedServerError(f"the cluster was not ready within {READY_TIMEOUT} s")

    def _replicas_synced(self) -> bool:
        """Every replica has synced with its primary (until then it could not take over)."""
        for node in self.nodes:
            client = redis.Redis(port=node.port, decode_responses=True, socket_timeout=2)
            try:
                info = client.info("replication")
            finally:
                client.close()
            if info.get("role") == "slave" and info.get("master_link_status") != "up":
                return False
        return True

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
