"""``capacity``: what one server core and one worker core carry, and a model built on them.

Measured, on Linux (CPU times come from ``INFO cpu`` and ``/proc/<pid>/stat``):

- the server's CPU per task over its lifecycle: push (in batches, as producers do) and the
  drain (pop, complete, the worker's heartbeats), from ``INFO cpu`` deltas;
- a worker process's CPU per task while it drains, thread and asyncio kinds.

The model: Valkey runs commands on one core, so one node carries ``1e6 / server_us`` tasks/s;
one core of workers carries ``1e6 / client_us``. A machine of C cores running N nodes (a
partitioned queue, P >= N partitions spread over them) and C - N cores of workers carries
``min(N * server, (C - N) * client)``; the best N balances the two. The scenario checks the
model where two cores can: the server pinned to core 0 and 2-4 worker processes on core 1,
the best drain rate against the predicted ``min(server, client)``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import redis

from fairque.bench.common import BenchReport, Progress, bench_config, drop_queue, quiet
from fairque.bench.common import server_facts as facts
from fairque.bench.drain import CONCURRENCY
from fairque.core.models import Task
from fairque.queue import TaskQueue
from fairque.server import EmbeddedServer

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
CORES = (16, 64)
MAX_PROCESSES = 4


@dataclass(frozen=True)
class Drain:
    """One drain by one worker process: the rate and the CPU it cost on both sides."""

    rate: float  # tasks/s from the first completion to the last
    server_push_us: float  # server CPU per task pushed
    server_drain_us: float  # server CPU per task drained
    client_us: float  # the worker process's CPU per task drained


def server_cpu(client: Any) -> float:
    """Seconds of CPU the server process used (user + system), from INFO cpu."""
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def process_cpu(pid: int) -> float:
    """Seconds of CPU a process used (user + system), from /proc."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


def pin(pid: int, core: int) -> None:
    """Pin every thread of a process to one core."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), {core})


def _completed(client: Any, key: str) -> int:
    return int(client.hget(key, "completed") or 0)


def drain_once(
    url: str, tasks: int, kind: str, core: int | None = None, processes: int = 1
) -> Drain:
    """Push ``tasks`` no-op tasks, then drain them with ``processes`` worker processes of
    ``kind`` (all pinned to ``core`` when given)."""
    config = bench_config(url)
    name = config.queue.name
    client = redis.Redis.from_url(url)

    def command(i: int) -> list[str]:
        return [
            sys.executable, "-m", "fairque.cli", "--redis-url", url, "--queue", name, "worker",
            "--handler", "fairque.bench.drain:noop", "--worker-id", f"capacity-{kind}-{i}",
            "--concurrency", str(CONCURRENCY[kind]), *(["--async"] if kind == "async" else []),
        ]  # fmt: skip

    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRQUE_")}
    try:
        with TaskQueue(config) as q:
            stats = q.session.keys.key("stats")
            before = server_cpu(client)
            for i in range(0, tasks, 1000):
                q.push_batch([Task.create(f"user-{j % 10}", 3, None)
                              for j in range(i, min(i + 1000, tasks))])  # fmt: skip
            pushed_cpu = server_cpu(client) - before
            # The child inherits this thread's affinity at fork, and so do its threads.
            saved = os.sched_getaffinity(0)
            if core is not None:
                os.sched_setaffinity(0, {core})
            try:
                procs = [
                    subprocess.Popen(
                        command(i), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                    )
                    for i in range(processes)
                ]
            finally:
                os.sched_setaffinity(0, saved)
            try:
                deadline = time.monotonic() + 60
                while (done0 := _completed(client, stats)) == 0:
                    if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                        raise RuntimeError("the capacity workers did not start")
                    time.sleep(0.002)

                def workers_cpu() -> float:
                    return sum(process_cpu(p.pid) for p in procs)

                t0, s0, c0 = time.perf_counter(), server_cpu(client), workers_cpu()
                while (done := _completed(client, stats)) < tasks:
                    time.sleep(0.05)
                t1, s1, c1 = time.perf_counter(), server_cpu(client), workers_cpu()
            finally:
                for p in procs:
                    p.terminate()
                for p in procs:
                    p.wait(30)
    finally:
        client.close()
        drop_queue(url, name)
    drained = done - done0
    return Drain(
        rate=drained / (t1 - t0),
        server_push_us=pushed_cpu * 1e6 / tasks,
        server_drain_us=(s1 - s0) * 1e6 / drained,
        client_us=(c1 - c0) * 1e6 / drained,
    )


def plan(server_per_s: float, client_per_s: float, cores: int) -> dict[str, Any]:
    """The best split of ``cores`` between server nodes and worker cores, and what it carries."""
    best: dict[str, Any] = {}
    for nodes in range(1, cores):
        carried = min(nodes * server_per_s, (cores - nodes) * client_per_s)
        if not best or carried > best["tasks_per_s"]:
            bound = "server" if nodes * server_per_s < (cores - nodes) * client_per_s else "workers"
            best = {"nodes": nodes, "worker_cores": cores - nodes,
                    "tasks_per_s": round(carried), "saturates_first": bound}  # fmt: skip
    return best


def run_capacity(
    redis_url: str | None = None, tasks: int = 20000, progress: Progress = quiet
) -> BenchReport:
    if not os.path.exists("/proc/self/stat"):
        raise RuntimeError("the capacity scenario reads /proc: it runs on Linux")
    with EmbeddedServer() if redis_url is None else _Given(redis_url) as server:
        url = server.url
        report = BenchReport(
            scenario="capacity", server=facts(url),
            params={"tasks": tasks, "concurrency": CONCURRENCY, "cores_modelled": list(CORES)},
        )  # fmt: skip
        # Pinned when we own the server and have two cores: the server on core 0, the
        # workers on core 1, so the CPU each side spends is not inflated by the other.
        pinned = server.pid is not None and len(os.sched_getaffinity(0)) >= 2
        if pinned:
            pin(server.pid, 0)  # type: ignore[arg-type]
        core = 1 if pinned else None
        measured: dict[str, Drain] = {}
        for kind in ("sync", "async"):
            progress(f"{kind} worker: CPU per task")
            measured[kind] = drain_once(url, tasks, kind, core=core)
        # Server CPU per task over its lifecycle, by the kind of worker draining (a thread
        # worker leases in smaller batches, so it costs the server more per task).
        server_us = {k: d.server_push_us + d.server_drain_us for k, d in measured.items()}
        results: dict[str, Any] = {
            "pinned": pinned,
            "server_us_per_task": {k: round(v, 1) for k, v in server_us.items()},
            "server_push_us_per_task": round(measured["sync"].server_push_us, 1),
            "server_drain_us_per_task": {
                k: round(d.server_drain_us, 1) for k, d in measured.items()
            },
            "client_us_per_task": {k: round(d.client_us, 1) for k, d in measured.items()},
            "one_node_tasks_per_s": {k: round(1e6 / v) for k, v in server_us.items()},
            "one_process_tasks_per_s": {k: round(d.rate) for k, d in measured.items()},
            "one_worker_core_tasks_per_s": {
                k: round(1e6 / d.client_us) for k, d in measured.items()
            },
        }
        for cores in CORES:
            results[f"plan_{cores}_cores"] = {
                k: plan(1e6 / server_us[k], 1e6 / d.client_us, cores) for k, d in measured.items()
            }
        ratios: dict[str, float] = {}
        if pinned:
            # The check: another run with more worker processes sharing core 1. The model
            # says the CPU per task, not one process's rate, sets what a core carries (a
            # thread worker waits on round trips more than it computes, so one process does
            # not fill a core; several do).
            checks = {}
            for kind, d in measured.items():
                cpu_bound = 1e6 / d.client_us
                predicted = min(1e6 / d.server_drain_us, cpu_bound)
                # The model gives the ceiling: the best number of processes on core 1 reaches
                # it (too few leave it idle while they wait, too many add switching).
                rates = {}
                for procs in range(2, MAX_PROCESSES + 1):
                    progress(f"{kind} x{procs} on core 1, server on core 0")
                    rates[procs] = round(drain_once(url, tasks, kind, core=1, processes=procs).rate)
                best = max(rates.values())
                checks[kind] = {"predicted_per_s": round(predicted), "measured_per_s": best,
                                "by_processes": rates}  # fmt: skip
                ratios[f"measured_vs_predicted_{kind}"] = round(best / predicted, 3)
            results["check_2_cores"] = checks
    report.results = results
    report.ratios = ratios
    return report


class _Given:
    """A server given by URL: measured through INFO, but not pinned (its pid is not ours)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pid: int | None = None

    def __enter__(self) -> _Given:
        return self

    def __exit__(self, *exc: object) -> None:
        return None
