"""Scenario ``scale-users``: pop rate as the number of configured users grows, with one user
holding all the work. Fair selection must not scan configured users."""

from __future__ import annotations

from fairque.bench.common import (
    BenchReport,
    Progress,
    bench_config,
    bench_server,
    drop_queue,
    quiet,
    rate,
    server_facts,
)
from fairque.core.config import FairQueueConfig
from fairque.core.models import Task
from fairque.queue import TaskQueue

USER_COUNTS = (1, 100, 1000, 10000)


def _pop_rate(url: str, users: int, tasks: int) -> float:
    base = bench_config(url)
    names = [f"user-{i}" for i in range(users)]
    config = FairQueueConfig(
        redis=base.redis,
        queue={
            "name": base.queue.name,
            "users": {u: {"weight": 1 + i % 3} for i, u in enumerate(names)},
        },
        workers=[{"id": "bench", "assigned_users": names}],
    )
    with TaskQueue(config) as q:
        q.push_batch([Task.create(names[-1], 3, i) for i in range(tasks)])

        def pop() -> None:
            for _ in range(tasks):
                assert q.pop() is not None

        result = rate(tasks, pop)
    drop_queue(url, config.queue.name)
    return result


def run_scale_users(
    redis_url: str | None = None, tasks: int = 5000, progress: Progress = quiet
) -> BenchReport:
    """Pop ``tasks`` tasks with 1, 100, 1,000 and 10,000 configured users."""
    with bench_server(redis_url) as url:
        report = BenchReport(
            scenario="scale-users",
            server=server_facts(url),
            params={"tasks": tasks, "users": list(USER_COUNTS)},
        )
        rates: dict[str, float] = {}
        # Interleave two rounds (1, 10000, ..., 1, 10000, ...) and keep the best of each, so
        # a noisy neighbour on the machine hurts both ends alike.
        for round_no in range(2):
            for users in USER_COUNTS:
                progress(f"round {round_no + 1}: {users} configured users")
                r = _pop_rate(url, users, tasks)
                rates[str(users)] = max(rates.get(str(users), 0.0), r)
                progress(f"{users} configured users", (f"{users} users", rates[str(users)]))
    report.results = {"pop_per_s_by_users": {k: round(v) for k, v in rates.items()}}
    report.ratios = {"max_users_vs_one": round(rates["10000"] / rates["1"], 3)}
    return report
