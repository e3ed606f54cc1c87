"""Dramatiq (Redis broker): 8 threads per process."""

from __future__ import annotations

import os
import sys
from importlib.metadata import version

import dramatiq
import redis
from common import count, measure, parse_args, rate_of, report, reset, singles, spawn
from dramatiq.brokers.redis import RedisBroker

URL = os.environ.get("PEERBENCH_URL", "redis://127.0.0.1:6379/0")
dramatiq.set_broker(RedisBroker(url=URL, namespace="peerbench"))
_client: redis.Redis | None = None


@dramatiq.actor(max_retries=0)
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
    import dramatiq_drain

    enqueue = rate_of(singles(n), lambda: dramatiq_drain.noop.send(n))
    for _ in range(n - singles(n)):
        dramatiq_drain.noop.send(n)
    cmd = [sys.executable, "-m", "dramatiq", "dramatiq_drain", "--processes", "1", "--threads", "8"]
    rate = measure(r, n, spawn(cmd, processes))
    # dramatiq logs a task only at DEBUG; its CLI runs at INFO.
    report("dramatiq", version("dramatiq"), rate, enqueue, concurrency="8 threads",
           settings=" ".join(cmd[3:]))  # fmt: skip


if __name__ == "__main__":
    main()
