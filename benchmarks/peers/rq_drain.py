"""RQ: SimpleWorker (no fork), one job at a time per process."""

from __future__ import annotations

import sys
from importlib.metadata import version

import redis
from common import count, measure, parse_args, rate_of, report, reset, singles, spawn
from rq import Queue

client: redis.Redis | None = None


def noop(url: str, n: int) -> None:
    global client
    if client is None:
        client = redis.Redis.from_url(url)
    count(client, n)


def main() -> None:
    url, n, processes = parse_args()
    r = redis.Redis.from_url(url)
    reset(r)
    q = Queue("peerbench", connection=r)
    enqueue = rate_of(singles(n), lambda: q.enqueue("rq_drain.noop", url, n))
    for i in range(singles(n), n, 1000):
        with r.pipeline() as pipe:
            jobs = [
                Queue.prepare_data("rq_drain.noop", (url, n)) for _ in range(i, min(i + 1000, n))
            ]
            q.enqueue_many(jobs, pipeline=pipe)
            pipe.execute()
    code = (
        f"import redis, rq; r = redis.Redis.from_url({url!r})\n"
        "rq.SimpleWorker([rq.Queue('peerbench', connection=r)], connection=r)"
        ".work(burst=True, logging_level='WARNING')\n"
    )
    rate = measure(r, n, spawn([sys.executable, "-c", code], processes))
    report("rq", version("rq"), rate, enqueue, concurrency="1 (SimpleWorker)",
           settings="SimpleWorker.work(burst=True, logging_level='WARNING')")  # fmt: skip


if __name__ == "__main__":
    main()
