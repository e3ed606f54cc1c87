"""Shared by the latency drivers (``*_latency.py``): one producer, one worker process with 4
slots, and the round trip of a single task, measured the same way for every queue.

A sample is one light task pushed alone: enqueue -> its handler starts (the handler writes
``time.time()`` under its index) and enqueue -> the producer's result wait returns, with the
queue's own result API. ``idle``: the worker has nothing else to do (a pause between samples).
``flood``: before each light task another tenant enqueues FLOOD heavy tasks (2 ms of work
each): a FIFO queue makes the light task wait for all of them, a fair one for a free slot.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis

KEY = "peerbench:lat:"
SLOTS = 4
HEAVY_S = 0.002
FLOOD = 200  # heavy tasks ahead of each light one (100 ms of work for 4 slots)
IDLE_PAUSE = 0.1


def parse_args() -> tuple[str, int]:
    """URL, samples per phase."""
    return sys.argv[1], int(sys.argv[2])


def mark_start(client: Any, i: int) -> None:
    """The light task's body (sync clients): when it started."""
    client.set(KEY + str(i), repr(time.time()), ex=600)


async def mark_start_async(client: Any, i: int) -> None:
    await client.set(KEY + str(i), repr(time.time()), ex=600)


def _pct(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def figures(starts: list[float], results: list[float]) -> dict[str, float]:
    return {
        "start_p50_ms": round(_pct(starts, 0.5), 2),
        "start_p90_ms": round(_pct(starts, 0.9), 2),
        "start_p99_ms": round(_pct(starts, 0.99), 2),
        "result_p50_ms": round(_pct(results, 0.5), 2),
        "result_p99_ms": round(_pct(results, 0.99), 2),
    }


def run(
    url: str,
    n: int,
    light: Callable[[int], Callable[[], object]],
    flood: Callable[[int], None],
) -> dict[str, Any]:
    """Sync producers: ``light(i)`` enqueues light task i and returns its result wait;
    ``flood(k)`` enqueues k heavy tasks."""
    r = redis.Redis.from_url(url)
    out: dict[str, Any] = {}
    light(-1)()  # the worker is up and warm
    for phase in ("idle", "flood"):
        starts, results = [], []
        for i in range(n):
            if phase == "flood":
                flood(FLOOD)
            index = i if phase == "idle" else n + i
            t0 = time.time()
            wait = light(index)
            wait()
            t1 = time.time()
            starts.append((float(r.get(KEY + str(index))) - t0) * 1000)
            results.append((t1 - t0) * 1000)
            if phase == "idle":
                time.sleep(IDLE_PAUSE)
        out[phase] = figures(starts, results)
    return out


async def run_async(
    url: str,
    n: int,
    light: Callable[[int], Awaitable[Callable[[], Awaitable[object]]]],
    flood: Callable[[int], Awaitable[None]],
) -> dict[str, Any]:
    """The same for asyncio producers."""
    import asyncio

    r = redis.Redis.from_url(url)
    out: dict[str, Any] = {}
    await (await light(-1))()
    for phase in ("idle", "flood"):
        starts, results = [], []
        for i in range(n):
            if phase == "flood":
                await flood(FLOOD)
            index = i if phase == "idle" else n + i
            t0 = time.time()
            wait = await light(index)
            await wait()
            t1 = time.time()
            starts.append((float(r.get(KEY + str(index))) - t0) * 1000)
            results.append((t1 - t0) * 1000)
            if phase == "idle":
                await asyncio.sleep(IDLE_PAUSE)
        out[phase] = figures(starts, results)
    return out


def report(peer: str, version: str, figures_: dict[str, Any], **extra: Any) -> None:
    print(json.dumps({"peer": peer, "version": version, **figures_, **extra}))


def spawn(args: list[str], processes: int = 1) -> list[Any]:
    """Worker processes, importing the drivers from this folder."""
    import os
    import subprocess
    from pathlib import Path

    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": str(here)}
    return [
        subprocess.Popen(args, cwd=here, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        for _ in range(processes)
    ]  # fmt: skip


def stop(procs: list[Any]) -> None:
    import subprocess

    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
