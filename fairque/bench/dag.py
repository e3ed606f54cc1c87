"""Scenario ``dag``: dependencies released through the fair scheduler.

One tenant pushes ``dags`` DAGs at once (a root, a fan-out of 10, a join that waits on the
ten), while 10 light tenants each keep ``CHAINS`` three-step chains going (step 2 waits on
step 1, step 3 on step 2; a chain ends when step 3 completes, then the tenant pushes the next).
Measured: the light chains' time from push to the end of step 3, alone and during the heavy
tenant's flood; Jain's index across the 11 tenants over windows of dispatches while all of
them have work (each light tenant keeps chains going, so every tenant's demand exceeds an
equal share and the fair shares are equal); and, as the control, the same run with every task
under one user: the same engine and the same releases, without fairness, which is FIFO.

A second measurement: one parent with ``WIDE`` dependents completes; the server's own record
of each call (SLOWLOG, every call over 0.3 ms) gives the longest single script call while they
are released, and how many calls it took.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import redis

from fairque.bench import common
from fairque.bench.common import BenchReport, Progress, quiet
from fairque.bench.fairness import jain
from fairque.core.models import Task
from fairque.queue import TaskQueue
from fairque.worker import HandlerRegistry, Worker

WORK_SECONDS = 0.001
CONCURRENCY = 4
LIGHT_TENANTS = [f"light-{i}" for i in range(10)]
HEAVY = "heavy"
HEAVY_USERS = 10  # the heavy tenant's DAGs are spread over this many of its users
FAN_OUT = 10
CHAINS = 3  # chains each light tenant keeps going at once
WINDOW = 110  # dispatches per Jain window (10 per tenant when shares are equal)
WIDE = 10_000


@dataclass
class _Ledger:
    """Dispatches in order: (tenant of the task, monotonic time)."""

    rows: list[tuple[str, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, tenant: str) -> None:
        with self.lock:
            self.rows.append((tenant, time.monotonic()))

    def count(self, tenant: str) -> int:
        with self.lock:
            return sum(1 for t, _ in self.rows if t == tenant)


def _worker(config: Any, ledger: _Ledger) -> tuple[Worker, threading.Thread]:
    handlers = HandlerRegistry()

    def work(task: Task) -> None:
        ledger.add(task.payload["t"])
        time.sleep(WORK_SECONDS)

    handlers.register("work", work)
    worker = Worker(config, handlers=handlers, worker_id="bench-dag", concurrency=CONCURRENCY)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return worker, thread


def _heavy_dags(count: int, fifo: bool) -> list[Task]:
    tasks: list[Task] = []
    tenant = None if fifo else HEAVY
    for d in range(count):
        user = "all" if fifo else f"heavy-u{d % HEAVY_USERS}"
        root = Task.create(user, payload={"t": HEAVY}, handler="work", tenant=tenant)
        kids = [Task.create(user, payload={"t": HEAVY}, handler="work", tenant=tenant,
                            after=root.task_id) for _ in range(FAN_OUT)]  # fmt: skip
        join = Task.create(user, payload={"t": HEAVY}, handler="work", tenant=tenant,
                           after=[k.task_id for k in kids])  # fmt: skip
        tasks += [root, *kids, join]
    return tasks


def _light_chains(config: Any, tenant: str, fifo: bool, stop: threading.Event,
                  times: list[tuple[float, float]]) -> None:  # fmt: skip
    """Keep one chain of ``tenant`` going until ``stop``: push it, wait for its last step;
    each chain's (start, duration ms) is recorded."""
    user = "all" if fifo else f"{tenant}-u"
    with TaskQueue(config) as q:
        while not stop.is_set():
            t0 = time.monotonic()
            s1 = Task.create(user, payload={"t": tenant}, handler="work",
                             tenant=None if fifo else tenant)  # fmt: skip
            s2 = Task.create(user, payload={"t": tenant}, handler="work", after=s1.task_id,
                             tenant=None if fifo else tenant)  # fmt: skip
            s3 = Task.create(user, payload={"t": tenant}, handler="work", after=s2.task_id,
                             tenant=None if fifo else tenant)  # fmt: skip
            q.push_batch([s1, s2, s3])
            q.result(s3.task_id, timeout=600)
            times.append((t0, (time.monotonic() - t0) * 1000))


def _run(url: str, dags: int, fifo: bool, progress: Progress, label: str) -> dict[str, Any]:
    """Light chains for the whole run; heavy DAGs pushed at its start (``dags`` = 0: alone)."""
    config = common.bench_config(url)
    ledger = _Ledger()
    worker, thread = _worker(config, ledger)
    stop = threading.Event()
    chains: list[tuple[float, float]] = []
    producers = [
        threading.Thread(target=_light_chains, args=(config, t, fifo, stop, chains), daemon=True)
        for t in LIGHT_TENANTS
        for _ in range(CHAINS)
    ]
    try:
        with TaskQueue(config) as q:
            if dags:
                heavy = _heavy_dags(dags, fifo)
                q.push_batch(heavy)
            begin = time.monotonic()
            for p in producers:
                p.start()
            heavy_tasks = dags * (FAN_OUT + 2)
            while time.monotonic() - begin < 900:  # until the flood is served
                if dags and ledger.count(HEAVY) >= heavy_tasks:
                    break
                if not dags and len(chains) >= 300:
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError("the heavy DAGs did not finish within 15 minutes")
            end = time.monotonic()
            stop.set()
            for p in producers:
                p.join(60)
    finally:
        worker.stop()
        thread.join(60)
        common.drop_queue(url, config.queue.name)
    rows = [r for r in ledger.rows if begin <= r[1] <= end]
    times = [ms for t0, ms in chains if t0 <= end]  # the chains started during the flood
    jains = _window_jains(rows)
    out: dict[str, Any] = {
        "light_chains": len(times),
        "chain_p50_ms": round(common.percentile(times, 0.5), 1),
        "chain_p90_ms": round(common.percentile(times, 0.9), 1),
        "seconds": round(end - begin, 2),
    }
    if dags:
        out["jain_median"] = round(statistics.median(jains), 4) if jains else None
        out["jain_min"] = round(min(jains), 4) if jains else None
        out["windows"] = len(jains)
        light = sum(1 for t, _ in rows if t != HEAVY)
        out["light_share"] = round(light / len(rows), 3) if rows else 0.0
    progress(label, (f"{label}: chain p50 ms", out["chain_p50_ms"]))
    return out


def _window_jains(rows: list[tuple[str, float]]) -> list[float]:
    """Jain's index per window of WINDOW dispatches, equal shares over the 11 tenants."""
    tenants = [HEAVY, *LIGHT_TENANTS]
    share = WINDOW / len(tenants)
    out = []
    for i in range(0, len(rows) - WINDOW + 1, WINDOW):
        counts = Counter(t for t, _ in rows[i : i + WINDOW])
        out.append(jain(dict(counts), dict.fromkeys(tenants, share)))
    return out


def _wide_release(url: str, width: int) -> dict[str, Any]:
    """One parent, ``width`` dependents: the longest single call while they are released."""
    config, _ = common.bench_config(url).with_worker("bench-wide")
    client = redis.Redis.from_url(url, decode_responses=True)
    before = str(client.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"])
    max_len = str(client.config_get("slowlog-max-len")["slowlog-max-len"])
    try:
        with TaskQueue(config, worker_id="bench-wide") as q:
            q.push(Task.create("parent", task_id="root"))
            for i in range(0, width, 2000):
                q.push_batch([Task.create(f"u{j % 50}", after="root")
                              for j in range(i, min(i + 2000, width))])  # fmt: skip
            root = q.pop()
            assert root is not None
            client.config_set("slowlog-max-len", 100_000)
            # Calls over 0.3 ms are logged: every script call that matters, and not the
            # commands inside scripts (logging each of those would slow the calls measured).
            client.config_set("slowlog-log-slower-than", 300)
            client.slowlog_reset()
            q.complete(root)
            calls = 1
            released = 0
            while q.stats().blocked > 0:
                released += len(q.pop_many(1))  # each pop passes a slice on
                calls += 1
            entries = client.slowlog_get(100_000)
    finally:
        client.config_set("slowlog-log-slower-than", before)
        client.config_set("slowlog-max-len", max_len)
        client.close()
        common.drop_queue(url, config.queue.name)
    scripts = [e for e in entries if _is_script(e["command"])]
    longest = max((e["duration"] for e in scripts), default=0)
    return {"dependents": width, "calls_to_release_all": calls,
            "longest_call_ms": round(longest / 1000, 3)}  # fmt: skip


def _is_script(command: Any) -> bool:
    text = command.decode() if isinstance(command, bytes) else str(command)
    return text.split(" ", 1)[0].upper() in ("EVALSHA", "EVAL", "FCALL", "FCALL_RO", "EVAL_RO")


def run_dag(
    redis_url: str | None = None, tasks: int = 12_000, progress: Progress = quiet
) -> BenchReport:
    """The heavy tenant's DAGs (``tasks`` / 12 of them: ``--tasks 12000`` is 1,000 DAGs)
    against 10 light tenants' chains, a FIFO control, and the release of up to WIDE
    dependents (``tasks`` of them, at least 1,000)."""
    dags = max(10, tasks // (FAN_OUT + 2))
    wide_n = min(WIDE, max(1000, tasks))
    with common.bench_server(redis_url) as url:
        report = BenchReport(
            scenario="dag",
            server=common.server_facts(url),
            params={"heavy_dags": dags, "fan_out": FAN_OUT, "light_tenants": len(LIGHT_TENANTS),
                    "chains_each": CHAINS, "concurrency": CONCURRENCY,
                    "work_ms": WORK_SECONDS * 1000, "window": WINDOW, "wide": wide_n},
        )  # fmt: skip
        alone = _run(url, 0, False, progress, "light chains alone")
        loaded = _run(url, dags, False, progress, "with the heavy DAGs")
        fifo = _run(url, dags, True, progress, "FIFO control")
        wide = _wide_release(url, wide_n)
        progress("wide release", ("longest call ms", wide["longest_call_ms"]))
    report.results = {"alone": alone, "loaded": loaded, "wide_release": wide}
    report.control = fifo
    report.ratios = {
        "chain_p50_vs_alone": round(loaded["chain_p50_ms"] / alone["chain_p50_ms"], 3),
        "chain_p90_vs_alone": round(loaded["chain_p90_ms"] / alone["chain_p90_ms"], 3),
        "fifo_chain_p50_vs_alone": round(fifo["chain_p50_ms"] / alone["chain_p50_ms"], 3),
    }
    return report
