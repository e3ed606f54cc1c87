"""Scenario ``latency``: how soon a pushed task starts and its result is back, from a
producer's side, against an idle worker and while another tenant floods the queue; for the
thread worker and the asyncio worker.

Each sample is one task of a light tenant, pushed alone (the producer waits for its result
before the next, with a pause so the worker is idle again): enqueue -> handler start, and
enqueue -> ``result()`` returned (the producer's blocking wait). Under the flood, a heavy
tenant has ``tasks`` tasks queued (each 2 ms of work) and every slot of the worker is busy:
the light tenant's wait is how long the fair round-robin makes it wait for the next free slot.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from fairque.bench import common
from fairque.bench.common import BenchReport, Progress, quiet
from fairque.core.config import FairQueueConfig
from fairque.core.models import Task
from fairque.queue import TaskQueue
from fairque.worker import AsyncWorker, HandlerRegistry, Worker

HEAVY_WORK_S = 0.002
IDLE_PAUSE_S = 0.1  # between idle samples: longer than the worker's fast polls
CONCURRENCY = 4


_pct = common.percentile


class _Run:
    """One worker (thread or asyncio) in a background thread, recording handler starts."""

    def __init__(self, config: FairQueueConfig, kind: str) -> None:
        self.starts: dict[str, float] = {}
        handlers = HandlerRegistry()

        def light(task: Task) -> str:
            self.starts[task.task_id] = time.perf_counter()
            return "ok"

        async def alight(task: Task) -> str:
            return light(task)

        def heavy(task: Task) -> None:
            time.sleep(HEAVY_WORK_S)

        async def aheavy(task: Task) -> None:
            await asyncio.sleep(HEAVY_WORK_S)

        sync = kind == "threads"
        handlers.register("light", light if sync else alight)
        handlers.register("heavy", heavy if sync else aheavy)
        settings: dict[str, Any] = {"concurrency": CONCURRENCY, "worker_id": f"bench-{kind}"}
        if sync:
            self.worker: Worker | AsyncWorker = Worker(config, handlers=handlers, **settings)
            target: Any = self.worker.run
        else:
            self.worker = AsyncWorker(config, handlers=handlers, **settings)
            worker = self.worker
            target = lambda: asyncio.run(worker.run())  # noqa: E731
        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(30)


def _samples(q: TaskQueue, run: _Run, n: int, pause: float) -> tuple[list[float], list[float]]:
    """``n`` light tasks, one at a time: enqueue -> start and enqueue -> result, in ms."""
    starts, results = [], []
    for _ in range(n):
        task = Task.create("light", 3, None, handler="light")
        pushed = time.perf_counter()
        q.push(task)
        q.result(task.task_id, timeout=30)
        done = time.perf_counter()
        starts.append((run.starts[task.task_id] - pushed) * 1000)
        results.append((done - pushed) * 1000)
        time.sleep(pause)
    return starts, results


def _measure(url: str, kind: str, flood: int, n: int, progress: Progress) -> dict[str, Any]:
    config = common.bench_config(url)
    run = _Run(config, kind)
    out: dict[str, Any] = {}
    try:
        with TaskQueue(config) as q:
            q.push(Task.create("light", 3, None, handler="light"))  # the worker's first task
            time.sleep(0.5)
            start, result = _samples(q, run, n, IDLE_PAUSE_S)
            out["idle"] = _figures(start, result)
            progress(f"{kind}: idle", (f"{kind} idle start p50 ms", out["idle"]["start_p50_ms"]))
            for i in range(0, flood, 2000):
                batch = [
                    Task.create("heavy", 3, None, handler="heavy")
                    for _ in range(i, min(i + 2000, flood))
                ]
                q.push_batch(batch)
            start, result = _samples(q, run, n, 0.005)
            left = q.stats().ready
            out["flood"] = {**_figures(start, result), "heavy_still_queued": left}
            progress(f"{kind}: flood", (f"{kind} flood start p99 ms", out["flood"]["start_p99_ms"]))
    finally:
        run.stop()
        common.drop_queue(url, config.queue.name)
    return out


def _figures(start: list[float], result: list[float]) -> dict[str, float]:
    return {
        "start_p50_ms": round(_pct(start, 0.5), 2),
        "start_p90_ms": round(_pct(start, 0.9), 2),
        "start_p99_ms": round(_pct(start, 0.99), 2),
        "result_p50_ms": round(_pct(result, 0.5), 2),
        "result_p99_ms": round(_pct(result, 0.99), 2),
    }


def run_latency(
    redis_url: str | None = None, tasks: int = 5000, progress: Progress = quiet
) -> BenchReport:
    """Enqueue -> start and enqueue -> result, idle and under a flood of ``tasks``."""
    samples = max(20, min(200, tasks // 25))
    with common.bench_server(redis_url) as url:
        report = BenchReport(
            scenario="latency",
            server=common.server_facts(url),
            params={"flood_tasks": tasks, "samples": samples, "concurrency": CONCURRENCY,
                    "heavy_work_ms": HEAVY_WORK_S * 1000},
        )  # fmt: skip
        for kind in ("threads", "asyncio"):
            report.results[kind] = _measure(url, kind, tasks, samples, progress)
    for kind in ("threads", "asyncio"):
        r = report.results[kind]
        idle, flood = r["idle"]["start_p99_ms"], r["flood"]["start_p99_ms"]
        report.ratios[f"{kind}_flood_p99_vs_idle_p99"] = round(flood / idle, 3) if idle else 0.0
    return report
