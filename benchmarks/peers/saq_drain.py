"""SAQ: concurrency 32 per process."""

from __future__ import annotations

import asyncio
import sys
from importlib.metadata import version
from typing import Any

import redis
import redis.asyncio as aredis
from common import count_async, measure, parse_args, rate_of_async, report, reset, singles, spawn
from saq import Queue

_client: aredis.Redis | None = None


async def noop(ctx: dict[str, Any], *, url: str, n: int) -> None:
    global _client
    if _client is None:
        _client = aredis.Redis.from_url(url)
    await count_async(_client, n)


async def enqueue(url: str, n: int) -> float:
    queue = Queue.from_url(url, name="peerbench")
    await queue.connect()
    rate = await rate_of_async(singles(n), lambda: queue.enqueue("noop", url=url, n=n))
    for i in range(singles(n), n, 500):
        await asyncio.gather(
            *[queue.enqueue("noop", url=url, n=n) for _ in range(i, min(i + 500, n))]
        )
    await queue.disconnect()
    return rate


def main() -> None:
    url, n, processes = parse_args()
    r = redis.Redis.from_url(url)
    reset(r)
    enqueued = asyncio.run(enqueue(url, n))
    code = (
        "import asyncio, saq, saq_drain\n"
        "async def main():\n"
        f"    q = saq.Queue.from_url({url!r}, name='peerbench')\n"
        "    await saq.Worker(q, functions=[saq_drain.noop], concurrency=32).start()\n"
        "asyncio.run(main())\n"
    )
    rate = measure(r, n, spawn([sys.executable, "-c", code], processes))
    # No logging configured: SAQ's per-job INFO lines are dropped at the logger.
    report("saq", version("saq"), rate, enqueued, concurrency="32",
           settings="Worker(concurrency=32), logging at WARNING")  # fmt: skip


if __name__ == "__main__":
    main()
