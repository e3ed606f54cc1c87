"""huey (Redis): thread consumer, 8 threads per process, ``-q`` (no per-task log lines: the
consumer logs every task at INFO by default)."""

from __future__ import annotations

import os
import sys
from importlib.metadata import version

import redis
from common import count, measure, parse_args, rate_of, report, reset, singles, spawn
from huey import RedisHuey

URL = os.environ.get("PEERBENCH_URL", "redis://127.0.0.1:6379/0")
huey = RedisHuey("peerbench", url=URL, results=False)
_client: redis.Redis | None = None


@huey.task()
def noop(n: int) -> None:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(URL)
    count(_client, n)


def main() -> None:
    url, n, processes = parse_args()
    assert url == URL, "run through benchmarks/peers.py (it sets PEERBENCH_URL)"
    r = redis.Redis.from_url(url)
    reset(r)
    import huey_drain

    enqueue = rate_of(singles(n), lambda: huey_drain.noop(n))
    for _ in range(n - singles(n)):  # huey has no batch enqueue
        huey_drain.noop(n)
    cmd = [
        sys.executable,
        "-m",
        "huey.bin.huey_consumer",
        "huey_drain.huey",
        "-w",
        "8",
        "-k",
        "thread",
        "-q",
    ]
    rate = measure(r, n, spawn(cmd, processes))
    report(
        "huey", version("huey"), rate, enqueue, concurrency="8 threads", settings=" ".join(cmd[3:])
    )


if __name__ == "__main__":
    main()
