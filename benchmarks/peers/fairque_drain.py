"""fairque: thread workers (8 per process; asyncio: 32). The timed single enqueues are
``push`` (``AsyncTaskQueue.push`` for the asyncio entry), the rest go with push_batch."""

from __future__ import annotations

import asyncio
import sys

import redis
import redis.asyncio as aredis
from common import (
    count,
    count_async,
    measure,
    parse_args,
    rate_of,
    rate_of_async,
    report,
    reset,
    singles,
    spawn,
)

from fairque import AsyncTaskQueue, FairQueueConfig, Task, TaskQueue, __version__

client: redis.Redis | None = None
async_client: aredis.Redis | None = None


def noop(task: Task) -> None:
    global client
    if client is None:
        client = redis.Redis.from_url(task.payload["url"])
    count(client, task.payload["n"])


async def noop_async(task: Task) -> None:
    """The asyncio worker's handler: a coroutine with an asyncio client, as the asyncio peers'
    drivers have (a sync handler would run on the worker's threads)."""
    global async_client
    if async_client is None:
        async_client = aredis.Redis.from_url(task.payload["url"])
    await count_async(async_client, task.payload["n"])


def main(extra: tuple[str, ...] = (), name: str = "fairque", use_async: bool = False) -> None:
    url, n, processes = parse_args()
    r = redis.Redis.from_url(url)
    reset(r)
    config = FairQueueConfig(redis={"url": url}, queue={"name": "peerbench"})
    payload = {"n": n, "url": url}
    if use_async:
        enqueue = asyncio.run(push_async(config, singles(n), payload))
    with TaskQueue(config) as q:
        if not use_async:
            users = iter(range(n))
            enqueue = rate_of(
                singles(n), lambda: q.push(Task.create(f"user-{next(users) % 10}", 3, payload))
            )
        for i in range(singles(n), n, 2000):
            chunk = range(i, min(i + 2000, n))
            q.push_batch([Task.create(f"user-{j % 10}", 3, payload) for j in chunk])
    cmd = [
        *(sys.executable, "-m", "fairque.cli", "--redis-url", url, "--queue", "peerbench"),
        *("worker", "--handler", "fairque_drain:noop_async" if use_async else "fairque_drain:noop"),
        *extra,
        *(("--async", "--concurrency", "32") if use_async else ("--concurrency", "8")),
    ]
    concurrency = "32 async" if use_async else "8 threads"
    rate = measure(r, n, spawn(cmd, processes))
    # Completed tasks are not logged unless log_tasks is set (the default).
    report(name, __version__, rate, enqueue, concurrency=concurrency, settings=" ".join(cmd[7:]))


async def push_async(config: FairQueueConfig, k: int, payload: dict[str, object]) -> float:
    users = iter(range(k))
    async with AsyncTaskQueue(config) as q:
        return await rate_of_async(
            k, lambda: q.push(Task.create(f"user-{next(users) % 10}", 3, payload))
        )


if __name__ == "__main__":
    main()
