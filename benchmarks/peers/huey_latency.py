"""huey (Redis): thread consumer, 4 threads, ``-q``; results with result.get(blocking=True)."""

from __future__ import annotations

import os
import sys
import time
from importlib.metadata import version
from typing import Any

import redis
from huey import RedisHuey
from latency_common import HEAVY_S, SLOTS, mark_start, parse_args, report, run, spawn, stop

URL = os.environ.get("PEERBENCH_URL", "redis://127.0.0.1:6379/0")
huey = RedisHuey("peerlat", url=URL)
_client: Any = None


@huey.task()
def light(i: int) -> bool:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(URL)
    mark_start(_client, i)
    return True  # huey stores no result for None


@huey.task()
def heavy() -> None:
    time.sleep(HEAVY_S)


def main() -> None:
    url, n = parse_args()
    assert url == URL, "run through benchmarks/peers_latency.py (it sets PEERBENCH_URL)"
    import huey_latency

    cmd = [sys.executable, "-m", "huey.bin.huey_consumer", "huey_latency.huey", "-w", str(SLOTS),
           "-k", "thread", "-q"]  # fmt: skip
    procs = spawn(cmd)
    try:

        def one(i: int) -> Any:
            result = huey_latency.light(i)
            return lambda: result.get(blocking=True, timeout=60)

        def flood(k: int) -> None:
            for _ in range(k):  # huey has no batch enqueue
                huey_latency.heavy()

        figures = run(url, n, one, flood)
    finally:
        stop(procs)
    report("huey", version("huey"), figures, concurrency=f"{SLOTS} threads",
           settings=" ".join(cmd[3:]) + "; result.get(blocking=True)")  # fmt: skip


if __name__ == "__main__":
    main()
