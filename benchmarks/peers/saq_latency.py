"""SAQ: concurrency 4; results with job.refresh(until_complete=)."""

from __future__ import annotations

import asyncio
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
from saq import Queue

_client: aredis.Redis | None = None


async def light(ctx: dict[str, Any], *, url: str, i: int) -> None:
    global _client
    if _client is None:
        _client = aredis.Redis.from_url(url)
    await mark_start_async(_client, i)


async def heavy(ctx: dict[str, Any]) -> None:
    await asyncio.sleep(HEAVY_S)


async def produce(url: str, n: int) -> dict[str, Any]:
    queue = Queue.from_url(url, name="peerlat")
    await queue.connect()

    async def one(i: int) -> Any:
        job = await queue.enqueue("light", url=url, i=i)
        return lambda: job.refresh(until_complete=60)

    async def flood(k: int) -> None:
        await asyncio.gather(*[queue.enqueue("heavy") for _ in range(k)])

    figures = await run_async(url, n, one, flood)
    await queue.disconnect()
    return figures


def main() -> None:
    url, n = parse_args()
    code = (
        "import asyncio, saq, saq_latency\n"
        "async def main():\n"
        f"    q = saq.Queue.from_url({url!r}, name='peerlat')\n"
        "    await saq.Worker(q, functions=[saq_latency.light, saq_latency.heavy],\n"
        f"                     concurrency={SLOTS}).start()\n"
        "asyncio.run(main())\n"
    )
    procs = spawn([sys.executable, "-c", code])
    try:
        figures = asyncio.run(produce(url, n))
    finally:
        stop(procs)
    report("saq", version("saq"), figures, concurrency=str(SLOTS),
           settings=f"Worker(concurrency={SLOTS}); job.refresh(until_complete=60)")  # fmt: skip


if __name__ == "__main__":
    main()
