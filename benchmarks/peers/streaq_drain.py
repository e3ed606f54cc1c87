"""streaq: concurrency 32 per process."""

from __future__ import annotations

import asyncio
import os
import sys
from importlib.metadata import version

import redis
import redis.asyncio as aredis
from common import count_async, measure, parse_args, rate_of_async, report, reset, singles, spawn
from streaq import Worker

URL = os.environ.get("PEERBENCH_URL", "redis://127.0.0.1:6379/0")
worker = Worker(redis_url=URL, concurrency=32, queue_name="peerbench")
_client: aredis.Redis | None = None


@worker.task()
async def noop(n: int) -> None:
    global _client
    if _client is None:
        _client = aredis.Redis.from_url(URL)
    await count_async(_client, n)


async def enqueue(n: int) -> float:
    async with worker:
        rate = await rate_of_async(singles(n), lambda: noop.enqueue(n))
        for i in range(singles(n), n, 1000):
            await worker.enqueue_many([noop.enqueue(n) for _ in range(i, min(i + 1000, n))])
    return rate


def main() -> None:
    url, n, processes = parse_args()
    assert url == URL, "run through benchmarks/peers.py (it sets PEERBENCH_URL)"
    r = redis.Redis.from_url(url)
    reset(r)
    import streaq_drain

    enqueued = asyncio.run(streaq_drain.enqueue(n))
    cmd = [sys.executable, "-m", "streaq", "run", "streaq_drain:worker"]
    rate = measure(r, n, spawn(cmd, processes))
    report(
        "streaq", version("streaq"), rate, enqueued, concurrency="32", settings=" ".join(cmd[3:])
    )


if __name__ == "__main__":
    main()
