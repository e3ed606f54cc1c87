"""Scenario ``inspect``: the Inspector on a big queue (10,000 users, 1,000,000 ready tasks
by default): its overview takes a fixed number of round trips whatever the size."""

from __future__ import annotations

import statistics
import time
from typing import Any

from fairque.bench import common
from fairque.bench.common import BenchReport, Progress, quiet
from fairque.core.models import Task
from fairque.monitoring import Inspector, user_ops
from fairque.monitoring import inspect_ops as io
from fairque.queue import TaskQueue
from fairque.queue.ops import Op

CHUNK = 2000


def _timed(q: TaskQueue, op: Op[Any]) -> tuple[float, int]:
    """Seconds and round trips of one operation."""
    steps = 0
    start = time.perf_counter()
    step = next(op)
    try:
        while True:
            steps += 1
            step = op.send(q._send(step))
    except StopIteration:
        pass
    return time.perf_counter() - start, steps


def run_inspect(redis_url: str | None = None, tasks: int = 1_000_000, progress: Progress = quiet,
                users: int = 10_000) -> BenchReport:  # fmt: skip
    """Fill a queue with ``tasks`` tasks over ``users`` users, then time the Inspector."""
    users = min(users, tasks)
    with common.bench_server(redis_url) as url:
        config = common.bench_config(url)
        report = BenchReport(
            scenario="inspect",
            server=common.server_facts(url),
            params={"tasks": tasks, "users": users},
        )
        with TaskQueue(config) as q:
            start = time.perf_counter()
            for i in range(0, tasks, CHUNK * 10):
                batch = [
                    Task.create(f"user-{j % users}", 1 + j % 6, None)
                    for j in range(i, min(i + CHUNK * 10, tasks))
                ]
                q.push_batch(batch)
                progress(f"filled {min(i + CHUNK * 10, tasks):,} of {tasks:,}")
            fill = time.perf_counter() - start
            ins = Inspector(config, queue=q)
            runs = [_timed(q, io.overview(q.session)) for _ in range(5)]
            page = [_timed(q, user_ops.users(q.session, 0, 50)) for _ in range(5)]
            overview = ins.overview()
            assert overview.totals.ready == tasks and overview.totals.backlogged_users == users
        progress("dropping the queue")
        common.drop_queue(url, config.queue.name)
    report.results = {
        "fill_s": round(fill, 1),
        "overview_ms": round(statistics.median(t for t, _ in runs) * 1000, 1),
        "overview_round_trips": runs[0][1],
        "users_page50_ms": round(statistics.median(t for t, _ in page) * 1000, 1),
        "users_page50_round_trips": page[0][1],
    }
    return report
