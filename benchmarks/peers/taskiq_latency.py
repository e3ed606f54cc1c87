"""taskiq with taskiq-redis (streams, a Redis result backend): 4 async tasks; results with
task.wait_result(timeout=) (its default check interval)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
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
from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

URL = os.environ.get("PEERBENCH_URL", "redis://127.0.0.1:6379/0")
broker = RedisStreamBroker(URL, queue_name="peerlat").with_result_backend(
    RedisAsyncResultBackend(URL)
)
_client: aredis.Redis | None = None


@broker.task(task_name="light")
async def light(i: int) -> None:
    global _client
    if _client is None:
        _client = aredis.Redis.from_url(URL)
    await mark_start_async(_client, i)


@broker.task(task_name="heavy")
async def heavy() -> None:
    await asyncio.sleep(HEAVY_S)


async def produce(n: int) -> dict[str, Any]:
    import taskiq_latency as m

    await m.broker.startup()

    async def one(i: int) -> Any:
        task = await m.light.kiq(i)
        return lambda: task.wait_result(timeout=60)

    async def flood(k: int) -> None:
        await asyncio.gather(*[m.heavy.kiq() for _ in range(k)])

    figures = await run_async(URL, n, one, flood)
    await m.broker.shutdown()
    return figures


def main() -> None:
    url, n = parse_args()
    assert url == URL, "run through benchmarks/peers_latency.py (it sets PEERBENCH_URL)"
    cmd = [sys.executable, "-m", "taskiq", "worker", "taskiq_latency:broker", "--workers", "1",
           "--max-async-tasks", str(SLOTS), "--log-level", "WARNING"]  # fmt: skip
    procs = spawn(cmd)  # streams: the consumer group must exist before enqueueing
    time.sleep(3)
    try:
        figures = asyncio.run(produce(n))
    finally:
        stop(procs)
    report("taskiq", version("taskiq"), figures, concurrency=f"{SLOTS} async",
           settings=" ".join(cmd[3:]) + "; task.wait_result(timeout=60)")  # fmt: skip


if __name__ == "__main__":
    main()
