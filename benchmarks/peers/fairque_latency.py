"""fairque, the thread worker (4 threads): results with TaskQueue.result (a blocking read)."""

from __future__ import annotations

import sys
import time
from importlib.metadata import version
from typing import Any

import redis
from latency_common import HEAVY_S, SLOTS, mark_start, parse_args, report, run, spawn, stop

from fairque import FairQueueConfig, Task, TaskQueue, task

_client: Any = None


@task("light")
def light(t: Task) -> None:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(sys.argv[sys.argv.index("--redis-url") + 1])
    mark_start(_client, t.payload)


@task("heavy")
def heavy(t: Task) -> None:
    time.sleep(HEAVY_S)


def main(kind: str = "threads") -> None:
    url, n = parse_args()
    cmd = [sys.executable, "-m", "fairque.cli", "--redis-url", url, "--queue", "peerbench",
           "worker", "--handler", "fairque_latency:light", "--concurrency", str(SLOTS)]  # fmt: skip
    if kind == "asyncio":
        cmd.append("--async")
    procs = spawn(cmd)
    config = FairQueueConfig(redis={"url": url}, queue={"name": "peerbench"})
    try:
        with TaskQueue(config) as q:

            def one(i: int) -> Any:
                handle = light.push(q, "light-tenant", i)
                return lambda: handle.result(timeout=60)

            def flood(k: int) -> None:
                q.push_batch([heavy.create("heavy-tenant", None) for _ in range(k)])

            figures = run(url, n, one, flood)
    finally:
        stop(procs)
    name = "fairque" if kind == "threads" else "fairque_async"
    report(name, version("fairque"), figures, concurrency=f"{SLOTS} ({kind})",
           settings=" ".join(cmd[5:]) + "; handle.result(timeout=60)")  # fmt: skip


if __name__ == "__main__":
    main()
