"""fairque: thread workers (8 per process; asyncio: 32), tasks pushed with push_batch."""

from __future__ import annotations

import sys

import redis
from common import count, measure, parse_args, report, reset, spawn

from fairque import FairQueueConfig, Task, TaskQueue, __version__

client: redis.Redis | None = None


def noop(task: Task) -> None:
    global client
    if client is None:
        client = redis.Redis.from_url(task.payload["url"])
    count(client, task.payload["n"])


def main(extra: tuple[str, ...] = (), name: str = "fairque", use_async: bool = False) -> None:
    url, n, processes = parse_args()
    r = redis.Redis.from_url(url)
    reset(r)
    config = FairQueueConfig(redis={"url": url}, queue={"name": "peerbench"})
    with TaskQueue(config) as q:
        for i in range(0, n, 2000):
            chunk = range(i, min(i + 2000, n))
            q.push_batch([Task.create(f"user-{j % 10}", 3, {"n": n, "url": url}) for j in chunk])
    cmd = [
        *(sys.executable, "-m", "fairque.cli", "--redis-url", url, "--queue", "peerbench"),
        *("worker", "--handler", "fairque_drain:noop", *extra),
        *(("--async", "--concurrency", "32") if use_async else ("--concurrency", "8")),
    ]
    concurrency = "32 async" if use_async else "8 threads"
    rate = measure(r, n, spawn(cmd, processes))
    # Completed tasks are not logged unless log_tasks is set (the default).
    report(name, __version__, rate, concurrency=concurrency, settings=" ".join(cmd[7:]))


if __name__ == "__main__":
    main()
