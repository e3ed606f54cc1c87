"""RQ: 4 SimpleWorker processes (no fork per job); results with job.latest_result(timeout=)."""

from __future__ import annotations

import sys
import time
from importlib.metadata import version
from typing import Any

import redis
from latency_common import HEAVY_S, SLOTS, mark_start, parse_args, report, run, spawn, stop
from rq import Queue

_client: Any = None


def light(url: str, i: int) -> None:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(url)
    mark_start(_client, i)


def heavy() -> None:
    time.sleep(HEAVY_S)


def main() -> None:
    url, n = parse_args()
    r = redis.Redis.from_url(url)
    q = Queue("peerlat", connection=r)
    code = (
        f"import redis, rq; r = redis.Redis.from_url({url!r})\n"
        "rq.SimpleWorker([rq.Queue('peerlat', connection=r)], connection=r)"
        ".work(logging_level='WARNING')\n"
    )
    procs = spawn([sys.executable, "-c", code], SLOTS)
    try:

        def one(i: int) -> Any:
            job = q.enqueue("rq_latency.light", url, i)
            return lambda: job.latest_result(timeout=60)

        def flood(k: int) -> None:
            with r.pipeline() as pipe:
                jobs = [Queue.prepare_data("rq_latency.heavy") for _ in range(k)]
                q.enqueue_many(jobs, pipeline=pipe)
                pipe.execute()

        figures = run(url, n, one, flood)
    finally:
        stop(procs)
    settings = "SimpleWorker.work(logging_level='WARNING'); job.latest_result(timeout=60)"
    report("rq", version("rq"), figures, concurrency=f"{SLOTS} SimpleWorker processes",
           settings=settings)  # fmt: skip


if __name__ == "__main__":
    main()
