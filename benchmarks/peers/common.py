"""Shared by every peer driver: the counting task body, worker processes, the measurement.

Every driver enqueues N no-op tasks that each INCR a counter, then starts P worker processes.
Two rates: (N - 1) / (time of the last INCR - time of the first), which counts neither
enqueueing nor worker start-up, and N / (time of the last INCR - the moment the workers were
spawned), which counts start-up (an import-heavy worker pays for it there). The report names
the Redis client libraries the driver's environment has (redis-py, hiredis).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

KEY = "peerbench:count"
HERE = Path(__file__).resolve().parent
TIMEOUT = 600.0


def parse_args() -> tuple[str, int, int]:
    """URL, tasks, worker processes."""
    return sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def reset(client: Any) -> None:
    client.delete(KEY, KEY + ":start", KEY + ":end")


def count(client: Any, n: int) -> None:
    """The task body (sync clients)."""
    c = client.incr(KEY)
    if c == 1:
        client.set(KEY + ":start", repr(time.time()))
    if c == n:
        client.set(KEY + ":end", repr(time.time()))


async def count_async(client: Any, n: int) -> None:
    """The task body (asyncio clients)."""
    c = await client.incr(KEY)
    if c == 1:
        await client.set(KEY + ":start", repr(time.time()))
    if c == n:
        await client.set(KEY + ":end", repr(time.time()))


SPAWNED_AT: list[float] = []  # when spawn started the workers (wall clock)
SPAWN_RATE: list[float] = []  # what measure found, from the spawn to the last task


def spawn(args: list[str], processes: int) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    SPAWNED_AT[:] = [time.time()]
    return [
        subprocess.Popen(
            args, cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(processes)
    ]


def measure(client: Any, n: int, procs: list[subprocess.Popen[bytes]]) -> float:
    """Wait for the last task, stop the workers, return tasks per second."""
    deadline = time.monotonic() + TIMEOUT
    try:
        while client.get(KEY + ":end") is None:
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out at {client.get(KEY)} of {n} tasks")
            if all(p.poll() is not None for p in procs):
                raise SystemExit(f"workers exited at {client.get(KEY)} of {n} tasks")
            time.sleep(0.01)
        start = float(client.get(KEY + ":start"))
        end = float(client.get(KEY + ":end"))
        if SPAWNED_AT:
            SPAWN_RATE[:] = [n / (end - SPAWNED_AT[0])]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
    return (n - 1) / (end - start)


# The first tasks of every drain are enqueued one call each, the way an application enqueues
# from a request handler, and timed: the single-enqueue rate. The rest go in the peer's
# fastest way (batches, pipelines or gathered calls), untimed.
SINGLES = 2000


def singles(n: int) -> int:
    return min(SINGLES, n)


def rate_of(k: int, enqueue_one: Callable[[], object]) -> float:
    """Enqueues per second of ``k`` sequential single enqueues."""
    start = time.perf_counter()
    for _ in range(k):
        enqueue_one()
    return k / (time.perf_counter() - start)


async def rate_of_async(k: int, enqueue_one: Callable[[], Awaitable[object]]) -> float:
    """The same for an asyncio client: each enqueue awaited before the next."""
    start = time.perf_counter()
    for _ in range(k):
        await enqueue_one()
    return k / (time.perf_counter() - start)


def client_libraries() -> dict[str, str]:
    """The versions of the Redis client libraries installed here (absent: not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("redis", "hiredis", "coredis", "valkey", "glide"):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def report(peer: str, version: str, rate: float, enqueue: float, **extra: Any) -> None:
    spawn_rate = round(SPAWN_RATE[0]) if SPAWN_RATE else None
    print(json.dumps({"peer": peer, "version": version, "e2e_per_s": round(rate),
                      "spawn_to_last_per_s": spawn_rate, "enqueue_per_s": round(enqueue),
                      "clients": client_libraries(), **extra}))  # fmt: skip
