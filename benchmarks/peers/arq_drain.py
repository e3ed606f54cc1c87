"""arq: 32 jobs at once per process, poll delay 0.01 s."""

from __future__ import annotations

import asyncio
import sys
from importlib.metadata import version
from typing import Any

import redis
from arq import create_pool
from arq.connections import RedisSettings
from common import count_async, measure, parse_args, rate_of_async, report, reset, singles, spawn


async def noop(ctx: dict[str, Any], n: int) -> None:
    await count_async(ctx["redis"], n)


async def enqueue(url: str, n: int) -> float:
    pool = await create_pool(RedisSettings.from_dsn(url))
    rate = await rate_of_async(singles(n), lambda: pool.enqueue_job("noop", n))
    for i in range(singles(n), n, 500):
        await asyncio.gather(*[pool.enqueue_job("noop", n) for _ in range(i, min(i + 500, n))])
    await pool.aclose()
    return rate


def main() -> None:
    url, n, processes = parse_args()
    r = redis.Redis.from_url(url)
    reset(r)
    enqueued = asyncio.run(enqueue(url, n))
    code = (
        "from arq.worker import Worker; from arq.connections import RedisSettings\n"
        "import arq_drain\n"
        f"settings = RedisSettings.from_dsn({url!r})\n"
        "Worker(functions=[arq_drain.noop], redis_settings=settings, max_jobs=32,\n"
        "       poll_delay=0.01).run()\n"
    )
    rate = measure(r, n, spawn([sys.executable, "-c", code], processes))
    # No logging configured: arq's per-job INFO lines are dropped at the logger.
    report("arq", version("arq"), rate, enqueued, concurrency="32 jobs",
           settings="Worker(max_jobs=32, poll_delay=0.01), logging at WARNING")  # fmt: skip


if __name__ == "__main__":
    main()
