"""taskiq with taskiq-redis (Redis streams): 32 async tasks per process."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from importlib.metadata import version

import redis
import redis.asyncio as aredis
from common import count_async, measure, parse_args, rate_of_async, report, reset, singles, spawn
from taskiq_redis import RedisStreamBroker

URL = os.environ.get("PEERBENCH_URL", "redis://127.0.0.1:6379/0")
broker = RedisStreamBroker(URL)
_client: aredis.Redis | None = None


@broker.task(task_name="noop")
async def noop(n: int) -> None:
    global _client
    if _client is None:
        _client = aredis.Redis.from_url(URL)
    await count_async(_client, n)


async def enqueue(n: int) -> float:
    await broker.startup()
    rate = await rate_of_async(singles(n), lambda: noop.kiq(n))
    for i in range(singles(n), n, 500):
        await asyncio.gather(*[noop.kiq(n) for _ in range(i, min(i + 500, n))])
    await broker.shutdown()
    return rate


def main() -> None:
    url, n, processes = parse_args()
    assert url == URL, "run through benchmarks/peers.py (it sets PEERBENCH_URL)"
    r = redis.Redis.from_url(url)
    reset(r)
    cmd = [sys.executable, "-m", "taskiq", "worker", "taskiq_drain:broker", "--workers", "1",
           "--max-async-tasks", "32", "--log-level", "WARNING"]  # fmt: skip
    procs = spawn(cmd, processes)  # streams: the consumer group must exist before enqueueing
    time.sleep(3)
    import taskiq_drain

    enqueued = asyncio.run(taskiq_drain.enqueue(n))
    report("taskiq", version("taskiq"), measure(r, n, procs), enqueued, concurrency="32 async",
           settings=" ".join(cmd[3:]))  # fmt: skip


if __name__ == "__main__":
    main()
