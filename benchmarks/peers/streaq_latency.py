"""streaq: concurrency 4; results with task.result(timeout=)."""

from __future__ import annotations

import asyncio
import os
import sys
from importlib.metadata import version
from typing import Any

import redis.asyncio as aredis
from latency_common import (
    HEAVY_S,
    SLOTS,
    mark_start_async,
    parse_args,
    report,
    run_async,
    spawn,
    stop,
)
from streaq import Worker

URL = os.environ.get("PEERBENCH_URL", "redis://127.0.0.1:6379/0")
worker = Worker(redis_url=URL, concurrency=SLOTS, queue_name="peerlat")
_client: aredis.Redis | None = None


@worker.task()
async def light(i: int) -> None:
    global _client
    if _client is None:
        _client = aredis.Redis.from_url(URL)
    await mark_start_async(_client, i)


@worker.task()
async def heavy() -> None:
    await asyncio.sleep(HEAVY_S)


async def produce(n: int) -> dict[str, Any]:
    import streaq_latency as m

    async with m.worker:

        async def one(i: int) -> Any:
            task = await m.light.enqueue(i)
            return lambda: task.result(timeout=60)

        async def flood(k: int) -> None:
            await m.worker.enqueue_many([m.heavy.enqueue() for _ in range(k)])

        return await run_async(URL, n, one, flood)


def main() -> None:
    url, n = parse_args()
    assert url == URL, "run through benchmarks/peers_latency.py (it sets PEERBENCH_URL)"
    cmd = [sys.executable, "-m", "streaq", "run", "streaq_latency:worker"]
    procs = spawn(cmd)
    try:
        figures = asyncio.run(produce(n))
    finally:
        stop(procs)
    report("streaq", version("streaq"), figures, concurrency=str(SLOTS),
           settings=" ".join(cmd[3:]) + "; task.result(timeout=60)")  # fmt: skip


if __name__ == "__main__":
    main()
