"""Real `fairque worker` processes running the ledger handler, for the fault tests."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.ledger import events

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcesses:
    """Starts worker processes on one queue, all writing to one ledger; stops them at the end.

    ``settings`` become ``FAIRQUE_*`` environment variables (``QUEUE__VISIBILITY_TIMEOUT``...),
    so the processes read them exactly as a deployment would.
    """

    def __init__(
        self,
        url: str,
        queue: str,
        directory: Path,
        *,
        mode: str = "sync",
        handler: str = "tests.support.handlers:record",
        settings: dict[str, str] | None = None,
    ) -> None:
        self.url, self.queue, self.directory = url, queue, directory
        self.mode, self.handler = mode, handler
        self.ledger = directory / "ledger"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "FAIRQUE_TEST_LEDGER": str(self.ledger),
            **{f"FAIRQUE_{k}": v for k, v in (settings or {}).items()},
        }
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, worker_id: str, *extra: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        cmd = [
            sys.executable, "-m", "fairque.cli", "--redis-url", self.url, "--queue", self.queue,
            "worker", "--handler", self.handler, "--worker-id", worker_id,
            *(["--async"] if self.mode == "async" else []), *extra,
        ]  # fmt: skip
        log = open(self.directory / f"{worker_id}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            cmd,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def events(self, event: str, pid: int | None = None) -> list[str]:
        return events(self.ledger, event, pid)

    def kill_and_replace(
        self,
        live: dict[int, subprocess.Popen[bytes]],
        kills: int,
        *extra: str,
        every: float = 0.25,
        seed: int = 1,
    ) -> list[int]:
        """SIGKILL a random worker of ``live`` ``kills`` times, ``every`` seconds, each
        replaced at once by a new one started with ``extra``; returns the killed pids."""
        rng = random.Random(seed)
        killed: list[int] = []
        for k in range(kills):
            time.sleep(every)
            i = rng.randrange(len(live))
            live[i].kill()  # SIGKILL while it holds tasks
            live[i].wait(5)
            killed.append(live[i].pid)
            live[i] = self.start(f"w{100 + k}", *extra)
        return killed

    def stop_all(self) -> None:
        """SIGTERM every live process (after SIGCONT, for stopped ones), SIGKILL stragglers."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
