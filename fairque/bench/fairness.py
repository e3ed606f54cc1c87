"""Scenarios ``fairness`` (noisy neighbour, with a plain FIFO list as the control run) and
``weights`` (3:2:1 shares), measured as docs/fairness.md describes."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import redis

from fairque.bench import common
from fairque.bench.common import BenchReport, Progress, quiet
from fairque.bench.workload import Ledger
from fairque.core.config import FairQueueConfig
from fairque.core.models import Task
from fairque.queue import TaskQueue
from fairque.worker import Worker

HEAVY = "heavy"
LIGHT = [f"light-{i}" for i in range(1, 10)]
WORK_SECONDS = 0.001  # the handler's fixed duration
CONCURRENCY = 4
WINDOW = 100


@dataclass
class Dispatch:
    user: str
    order: int  # global dispatch order
    wait_ms: float  # enqueue -> start


def jain(counts: dict[str, int], shares: dict[str, float]) -> float:
    """Jain's index of dispatches normalised by each user's fair share."""
    xs = [counts.get(u, 0) / s for u, s in shares.items()]
    total = sum(xs)
    squares = sum(x * x for x in xs)
    return (total * total) / (len(xs) * squares) if squares else 1.0


def window_jains(rows: list[Dispatch], weights: dict[str, float] | None = None) -> list[float]:
    """Jain's index over consecutive windows of 100 dispatches, over the users backlogged for
    the whole window, while >= 2 are. Every task of these workloads is queued before the
    first dispatch, so a user is backlogged until its last dispatch."""
    ordered = sorted(rows, key=lambda d: d.order)
    last: dict[str, int] = {}
    for i, d in enumerate(ordered):
        last[d.user] = i
    out = []
    for start in range(0, len(ordered) - WINDOW + 1, WINDOW):
        end = start + WINDOW
        backlogged = [u for u in last if last[u] >= end]
        if len(backlogged) < 2:
            continue
        w = {u: (weights or {}).get(u, 1.0) for u in backlogged}
        total_w = sum(w.values())
        counts = Counter(d.user for d in ordered[start:end] if d.user in w)
        out.append(jain(counts, {u: WINDOW * wu / total_w for u, wu in w.items()}))
    return out


_p = common.percentile


def _run_fairque(url: str, heavy: int, light: int, progress: Progress) -> list[Dispatch]:
    """The workload through fairque with real Worker threads; stops once the light users
    are served (the heavy user's remaining backlog is dropped)."""
    base = common.bench_config(url)
    config = FairQueueConfig(
        redis=base.redis,
        queue=base.queue,
        workers=[{"id": "bench", "steal_targets": "*", "concurrency": CONCURRENCY}],
    )
    ledger: Ledger[Dispatch] = Ledger()
    needed = light * len(LIGHT)

    def handler(task: Task) -> None:
        started = time.time()
        created = task.created_at.timestamp() if task.created_at else started
        assert task.lease is not None
        ledger.add(Dispatch(task.user_id, task.lease.sequence, (started - created) * 1000))
        time.sleep(WORK_SECONDS)

    with TaskQueue(config) as q:
        if heavy:
            for i in range(0, heavy, 2000):
                q.push_batch([Task.create(HEAVY, 3, None) for _ in range(i, min(i + 2000, heavy))])
        q.push_batch([Task.create(u, 3, None) for _ in range(light) for u in LIGHT])
        worker = Worker(config, handler)
        t = threading.Thread(target=worker.run, daemon=True)
        t.start()
        while sum(1 for d in list(ledger.rows) if d.user != HEAVY) < needed:
            time.sleep(0.01)
        worker.stop()
        t.join(30)
    common.drop_queue(url, config.queue.name)
    progress(f"fairque: {len(ledger.rows)} dispatches")
    return ledger.rows


def _run_fifo(url: str, heavy: int, light: int, progress: Progress) -> list[Dispatch]:
    """The control: the same workload through one plain Redis list (FIFO), same threads."""
    client = redis.Redis.from_url(url)
    key = f"bench-fifo-{time.time_ns()}"
    order = iter(range(10**9))
    lock = threading.Lock()
    ledger: Ledger[Dispatch] = Ledger()
    items = [HEAVY] * heavy + [u for _ in range(light) for u in LIGHT]
    now = time.time()
    for i in range(0, len(items), 2000):
        client.rpush(key, *[json.dumps({"u": u, "t": now}) for u in items[i : i + 2000]])
    needed = light * len(LIGHT)

    def run() -> None:
        c = redis.Redis.from_url(url)
        while True:
            raw = c.lpop(key)
            if raw is None:
                return
            item: dict[str, Any] = json.loads(
                str(raw, "utf-8") if isinstance(raw, bytes) else str(raw)
            )
            with lock:
                n = next(order)
            ledger.add(Dispatch(item["u"], n, (time.time() - item["t"]) * 1000))
            time.sleep(WORK_SECONDS)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(CONCURRENCY)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.delete(key)
    client.close()
    assert sum(1 for d in ledger.rows if d.user != HEAVY) == needed
    progress(f"fifo control: {len(ledger.rows)} dispatches")
    return ledger.rows


def _light_waits(rows: list[Dispatch]) -> list[float]:
    return [d.wait_ms for d in rows if d.user != HEAVY]


def run_fairness(
    redis_url: str | None = None, tasks: int = 20000, progress: Progress = quiet
) -> BenchReport:
    """Noisy neighbour: ``tasks`` heavy tasks first, then 9 light users with 200 each."""
    light = max(10, min(200, tasks // 10))
    with common.bench_server(redis_url) as url:
        report = BenchReport(
            scenario="fairness",
            server=common.server_facts(url),
            params={"heavy_tasks": tasks, "light_users": len(LIGHT), "light_tasks_each": light,
                    "concurrency": CONCURRENCY, "work_ms": WORK_SECONDS * 1000, "window": WINDOW},
        )  # fmt: skip
        progress("light users alone (unloaded)")
        unloaded = _run_fairque(url, 0, light, progress)
        p99_figure = ("light p99 ms, unloaded", _p(_light_waits(unloaded), 0.99))
        progress("heavy user first, then the light users", p99_figure)
        loaded = _run_fairque(url, tasks, light, progress)
        progress("the same through a plain FIFO list",
                 ("light p99 ms, fairque", _p(_light_waits(loaded), 0.99)))  # fmt: skip
        fifo = _run_fifo(url, tasks, light, progress)
        progress("done", ("light p99 ms, FIFO", _p(_light_waits(fifo), 0.99)))
    jains = window_jains(loaded)
    fifo_jains = window_jains(fifo)
    p99 = _p(_light_waits(loaded), 0.99)
    p99_unloaded = _p(_light_waits(unloaded), 0.99)
    p99_fifo = _p(_light_waits(fifo), 0.99)
    report.results = {
        "jain_median": round(statistics.median(jains), 4) if jains else None,
        "jain_min": round(min(jains), 4) if jains else None,
        "windows": len(jains),
        "light_p50_wait_ms": round(_p(_light_waits(loaded), 0.50), 1),
        "light_p99_wait_ms": round(p99, 1),
        "light_p99_wait_unloaded_ms": round(p99_unloaded, 1),
    }
    report.control = {
        "jain_median": round(statistics.median(fifo_jains), 4) if fifo_jains else None,
        "light_p50_wait_ms": round(_p(_light_waits(fifo), 0.50), 1),
        "light_p99_wait_ms": round(p99_fifo, 1),
    }
    report.ratios = {
        "light_p99_vs_unloaded": round(p99 / p99_unloaded, 3) if p99_unloaded else 0.0,
        "light_p99_vs_fifo": round(p99 / p99_fifo, 4) if p99_fifo else 0.0,
    }
    return report


def run_weights(
    redis_url: str | None = None, tasks: int = 6000, progress: Progress = quiet
) -> BenchReport:
    """Users with weights 3:2:1, all backlogged: how far each share is from its weight."""
    weights = {"w3": 3.0, "w2": 2.0, "w1": 1.0}
    with common.bench_server(redis_url) as url:
        base = common.bench_config(url)
        config = FairQueueConfig(
            redis=base.redis,
            queue={
                "name": base.queue.name,
                "users": {u: {"weight": w} for u, w in weights.items()},
            },
        )
        report = BenchReport(
            scenario="weights",
            server=common.server_facts(url),
            params={"dispatches": tasks, "weights": weights},
        )
        with TaskQueue(config) as q:
            for u in weights:
                for i in range(0, tasks, 2000):
                    q.push_batch([Task.create(u, 3, None) for _ in range(i, min(i + 2000, tasks))])
            counts: Counter[str] = Counter()
            done = 0
            while done < tasks:
                batch = q.pop_many(min(100, tasks - done))
                counts.update(t.user_id for t in batch)
                q.complete_many((t, None) for t in batch)
                done += len(batch)
        common.drop_queue(url, config.queue.name)
    total_w = sum(weights.values())
    errors = {u: abs(counts[u] / tasks - w / total_w) / (w / total_w) for u, w in weights.items()}
    for u in weights:
        progress("done", (f"{u} share %", 100 * counts[u] / tasks))
    report.results = {
        "share_error_max": round(max(errors.values()), 4),
        "shares": {u: round(counts[u] / tasks, 4) for u in weights},
    }
    return report
