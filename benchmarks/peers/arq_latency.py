"""arq: 4 jobs at once, poll delay 0.01 s; results with job.result(timeout=), its default poll."""

from __future__ import annotations

import asyncio
import sys
from importlib.metadata import version
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
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


async def light(ctx: dict[str, Any], i: int) -> None:
    await mark_start_async(ctx["redis"], i)


async def heavy(ctx: dict[str, Any]) -> None:
    await asyncio.sleep(HEAVY_S)


async def produce(url: str, n: int) -> dict[str, Any]:
    pool = await create_pool(RedisSettings.from_dsn(url))

    async def one(i: int) -> Any:
        job = await pool.enqueue_job("light", i)
        assert job is not None
        return lambda: job.result(timeout=60)

    async def flood(k: int) -> None:
        await asyncio.gather(*[pool.enqueue_job("heavy") for _ in range(k)])

    figures = await run_async(url, n, one, flood)
    await pool.aclose()
    return figures


def main() -> None:
    url, n = parse_args()
    code = (
        "from arq.worker import Worker; from arq.connections import RedisSettings\n"
        "import arq_latency\n"
        f"settings = RedisSettings.from_dsn({url!r})\n"
        "Worker(functions=[arq_latency.light, arq_latency.heavy], redis_settings=settings,\n"
        f"       max_jobs={SLOTS}, poll_delay=0.01).run()\n"
    )
    procs = spawn([sys.executable, "-c", code])
    try:
        figures = asyncio.run(produce(url, n))
    finally:
        stop(procs)
    settings = f"Worker(max_jobs={SLOTS}, poll_delay=0.01); job.result(timeout=60)"
    report("arq", version("arq"), figures, concurrency=f"{SLOTS} jobs", settings=settings)


if __name__ == "__main__":
    main()
