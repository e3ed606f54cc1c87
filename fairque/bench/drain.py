"""Scenario ``drain``: no-op tasks drained end to end by worker processes, for 1 and 2
processes, thread and asyncio workers. Also the ``e2e_per_s`` figure of ``throughput``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from fairque.bench import common
from fairque.bench.common import SINGLE, BenchReport, Progress, Target, quiet
from fairque.core.models import Task
from fairque.queue import TaskQueue
from fairque.queue.ops import Call, CommandCall, single

CONCURRENCY = {"sync": 8, "async": 32}
START_TIMEOUT = 30.0


def noop(task: Task) -> None:
    """The benchmark's handler: does nothing."""


def _spawn(url: str, queue: str, kind: str, index: int, target: Target) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "fairque.cli", "--redis-url", url, "--queue", queue,
        *(["--cluster"] if target.cluster else []), "worker",
        "--handler", "fairque.bench.drain:noop", "--worker-id", f"bench-{kind}-{index}",
        "--concurrency", str(CONCURRENCY[kind]), *(["--async"] if kind == "async" else []),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRQUE_")}
    env["FAIRQUE_QUEUE__PARTITIONS"] = str(target.partitions)
    env["FAIRQUE_QUEUE__PARTITION_PICK"] = target.partition_pick
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def drain_rate(url: str, tasks: int, processes: int, kind: str, target: Target = SINGLE) -> float:
    """Tasks per second drained by ``processes`` worker processes of ``kind``."""
    config = common.bench_config(url, target)
    name = config.queue.name
    procs = [_spawn(url, name, kind, i, target) for i in range(processes)]
    try:
        with TaskQueue(config) as q:
            client = q.client
            workers_key = q.session.keys.key("workers")  # partition 0 knows every worker
            deadline = time.monotonic() + START_TIMEOUT
            while client.zcard(workers_key) < processes:
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise RuntimeError("benchmark workers did not start")
                time.sleep(0.05)
            batch = [Task.create(f"user-{i % 10}", 3, None) for i in range(tasks)]
            start = time.perf_counter()
            for i in range(0, tasks, 2000):
                q.push_batch(batch[i : i + 2000])
            stats_keys = [s.keys.key("stats") for s in q.parts.sessions]

            def completed() -> int:  # every partition in one step
                calls: list[Call] = [CommandCall(("HGET", k, "completed")) for k in stats_keys]
                replies: list[Any] = q.run(single(calls))
                return sum(int(c or 0) for c in replies)

            while completed() < tasks:
                time.sleep(0.005)
            elapsed = time.perf_counter() - start
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        common.drop_queue(url, name, target)
    return tasks / elapsed


def run_drain(redis_url: str | None = None, tasks: int = 20000, progress: Progress = quiet,
              target: Target = SINGLE) -> BenchReport:  # fmt: skip
    """Drain ``tasks`` no-op tasks with 1 and 2 processes of each worker kind."""
    with common.bench_server(redis_url) as url:
        report = BenchReport(
            scenario="drain",
            server=common.server_facts(url),
            params={
                "tasks": tasks,
                "concurrency": CONCURRENCY,
                "cluster": target.cluster,
                "partitions": target.partitions,
                "partition_pick": target.partition_pick,
            },
        )
        results: dict[str, Any] = {}
        for kind in ("sync", "async"):
            for processes in (1, 2):
                progress(f"{kind} workers x{processes}")
                rate_ = drain_rate(url, tasks, processes, kind, target)
                results[f"{kind}_x{processes}"] = round(rate_)
                progress(
                    f"{kind} workers x{processes}",
                    (f"{kind} x{processes}", results[f"{kind}_x{processes}"]),
                )
    report.results = {"e2e_per_s": results}
    report.ratios = {
        "sync_x2_vs_x1": round(results["sync_x2"] / results["sync_x1"], 2),
        "async_x2_vs_x1": round(results["async_x2"] / results["async_x1"], 2),
    }
    return report
