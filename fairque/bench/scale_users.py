"""Scenario ``scale-users``: pop rate as the number of configured users grows, with one user
holding all the work, and with 100 registered workers of 100 assigned users each (popping
from home and as a ``"*"`` stealer). Fair selection must scan neither users nor workers."""

from __future__ import annotations

from fairque.bench import common
from fairque.bench.common import BenchReport, Progress, quiet
from fairque.core.config import FairQueueConfig
from fairque.core.models import Task
from fairque.queue import TaskQueue, ops

USER_COUNTS = (1, 100, 1000, 10000)
WORKERS, PER_WORKER = 100, 100  # registered workers, assigned users each


def _popper_rate(url: str, names: list[str], worker: dict[str, object], tasks: int) -> float:
    """Pop rate of ``worker`` with ``names`` configured (weights 1-3), the last one holding
    all the work. The popper registers before the clock starts (a worker does at start)."""
    base = common.bench_config(url)
    config = FairQueueConfig(
        redis=base.redis,
        queue={
            "name": base.queue.name,
            "users": {u: {"weight": 1 + i % 3} for i, u in enumerate(names)},
        },
        workers=[worker],
    )
    with TaskQueue(config) as q:
        q.run(ops.register(q.session))
        q.push_batch([Task.create(names[-1], 3, i) for i in range(tasks)])

        def pop() -> None:
            for _ in range(tasks):
                assert q.pop() is not None

        result = common.rate(tasks, pop)
    common.drop_queue(url, config.queue.name)
    return result


def _pop_rate(url: str, users: int, tasks: int) -> float:
    names = [f"user-{i}" for i in range(users)]
    return _popper_rate(url, names, {"id": "bench", "assigned_users": names}, tasks)


def _registered_rate(url: str, tasks: int, popper: str) -> float:
    """Pop rate with WORKERS registered workers of PER_WORKER users each; ``popper`` is
    "home" (worker 0, whose user has the work) or "stealer" (``"*"``, no users of its own)."""
    base = common.bench_config(url)
    names = [[f"user-{w}-{i}" for i in range(PER_WORKER)] for w in range(WORKERS)]
    for w in range(1, WORKERS):
        other = FairQueueConfig(
            redis=base.redis,
            queue={"name": base.queue.name},
            workers=[{"id": f"w{w}", "assigned_users": names[w]}],
        )
        with TaskQueue(other) as q:
            q.run(ops.register(q.session))
    me: dict[str, object] = (
        {"id": "w0", "assigned_users": names[0]}
        if popper == "home"
        else {"id": "ws", "steal_targets": "*", "steal_after": 0}
    )
    everyone = [u for group in names[1:] for u in group] + names[0]  # the last has the work
    return _popper_rate(url, everyone, me, tasks)


def run_scale_users(
    redis_url: str | None = None, tasks: int = 5000, progress: Progress = quiet
) -> BenchReport:
    """Pop ``tasks`` tasks with 1, 100, 1,000 and 10,000 configured users."""
    with common.bench_server(redis_url) as url:
        report = BenchReport(
            scenario="scale-users",
            server=common.server_facts(url),
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
            for popper in ("home", "stealer"):
                label = f"{WORKERS} workers x {PER_WORKER} users, {popper}"
                progress(f"round {round_no + 1}: {label}")
                r = _registered_rate(url, tasks, popper)
                rates[popper] = max(rates.get(popper, 0.0), r)
                progress(label, (label, rates[popper]))
    report.results = {
        "pop_per_s_by_users": {k: round(v) for k, v in rates.items() if k.isdigit()},
        "pop_per_s_registered_workers": {
            "workers": WORKERS,
            "assigned_each": PER_WORKER,
            "home": round(rates["home"]),
            "stealer": round(rates["stealer"]),
        },
    }
    report.ratios = {
        "max_users_vs_one": round(rates["10000"] / rates["1"], 3),
        "registered_workers_vs_one": round(min(rates["home"], rates["stealer"]) / rates["1"], 3),
    }
    return report
