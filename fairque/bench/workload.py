"""Multi-tenant workloads run through fairque's thread worker and, as the control, through one
plain FIFO list with the same threads: the engine of the fairness suite.

A workload is a set of streams (one user each, maybe under a tenant): tasks queued before the
workers start, or pushed at a steady rate while they run. Every run records each dispatch
(who, when it started and ended, how long it waited since its push), so a scenario can
measure shares of dispatches or of worker time, and waits, over any interval.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import redis

from fairque.bench.common import bench_config, drop_queue
from fairque.core.config import FairQueueConfig
from fairque.core.models import Task
from fairque.queue import TaskQueue
from fairque.worker import Worker

CONCURRENCY = 4  # worker threads, in fairque's worker and in the control
PUSH_CHUNK = 2000


@dataclass(frozen=True)
class Stream:
    """One user's tasks: ``count`` of them, each holding a worker ``work_s`` seconds; queued
    up front, or pushed at ``rate`` per second while the run goes, or ``start_s`` in."""

    user: str
    count: int
    work_s: float
    tenant: str | None = None
    rate: float | None = None
    start_s: float = 0.0  # > 0: pushed (all at once, or from then on at ``rate``) this late


Row = TypeVar("Row")


@dataclass(frozen=True)
class Dispatch:
    user: str
    tenant: str | None
    started: float  # wall clock, seconds
    ended: float
    wait_ms: float  # push -> start

    @property
    def group(self) -> str:
        """Who fairness is between: the tenant, or the user without one."""
        return self.tenant or self.user


@dataclass
class Ledger(Generic[Row]):
    """Rows added by worker threads, read while they run."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> None:
        with self.lock:
            self.rows.append(row)

    def snapshot(self) -> list[Row]:
        with self.lock:
            return list(self.rows)


# When a run stops: given the dispatches so far and the seconds since the workers started.
StopRule = Callable[[list[Dispatch], float], bool]


def done_when_served(users: set[str], total: int, limit_s: float = 120.0) -> StopRule:
    """Stop once ``users`` had ``total`` dispatches (or after ``limit_s``)."""
    return lambda rows, elapsed: (
        elapsed >= limit_s or sum(1 for d in rows if d.user in users) >= total
    )


def after_seconds(seconds: float) -> StopRule:
    return lambda rows, elapsed: elapsed >= seconds


def while_all_backlogged(streams: Sequence[Stream], limit_s: float) -> StopRule:
    """Stop when any stream has run all its tasks (from then on the others are no longer
    competing with it) or after ``limit_s``."""
    counts = {s.user: s.count for s in streams}

    def stop(rows: list[Dispatch], elapsed: float) -> bool:
        if elapsed >= limit_s:
            return True
        done: dict[str, int] = {}
        for d in rows:
            done[d.user] = done.get(d.user, 0) + 1
        return any(done.get(u, 0) >= n for u, n in counts.items())

    return stop


def _payloads(stream: Stream, n: int) -> list[str]:
    now = time.time()
    return [json.dumps({"u": stream.user, "t": now}) for _ in range(n)]


class _Producer:
    """Pushes the steady streams at their rates until told to stop."""

    def __init__(self, streams: Sequence[Stream], push: Callable[[Stream, int], None]) -> None:
        self.streams = [s for s in streams if s.rate or s.start_s]
        self.push = push
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        start = time.monotonic()
        sent = dict.fromkeys((s.user for s in self.streams), 0)
        while not self.stopped.is_set() and any(sent[s.user] < s.count for s in self.streams):
            elapsed = time.monotonic() - start
            for s in self.streams:
                if elapsed < s.start_s:
                    continue
                late = elapsed - s.start_s
                due = min(s.count, int(late * s.rate) + 1) if s.rate else s.count
                if due > sent[s.user]:
                    self.push(s, due - sent[s.user])
                    sent[s.user] = due
            self.stopped.wait(0.005)

    def __enter__(self) -> _Producer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(10)


def _wait_until(ledger: Ledger[Dispatch], stop: StopRule, started: float) -> None:
    while not stop(ledger.snapshot(), time.monotonic() - started):
        time.sleep(0.01)


def run_fairque(
    url: str,
    streams: Sequence[Stream],
    stop: StopRule,
    measure: dict[str, float] | None = None,
    **queue: Any,
) -> list[Dispatch]:
    """The workload through fairque: real Worker threads on a fresh queue configured with
    ``queue`` (fairness, tenants, limits, ...). ``measure`` receives the process's CPU
    seconds and the wall seconds from the workers' start to the stop."""
    base = bench_config(url, **queue)
    config = FairQueueConfig(
        redis=base.redis,
        queue=base.queue,
        workers=[{"id": "bench", "steal_targets": "*", "concurrency": CONCURRENCY}],
    )
    by_user = {s.user: s for s in streams}
    ledger: Ledger[Dispatch] = Ledger()

    def handler(task: Task) -> None:
        started = time.time()
        s = by_user[task.user_id]
        time.sleep(s.work_s)
        pushed = float(task.payload["t"])
        ledger.add(Dispatch(s.user, s.tenant, started, time.time(), (started - pushed) * 1000))

    with TaskQueue(config) as q:

        def push(s: Stream, n: int) -> None:
            for i in range(0, n, PUSH_CHUNK):
                q.push_batch(
                    [
                        Task.create(s.user, 3, json.loads(p), tenant=s.tenant)
                        for p in _payloads(s, min(PUSH_CHUNK, n - i))
                    ]
                )

        for s in streams:
            if not s.rate and not s.start_s:
                push(s, s.count)
        worker = Worker(config, handler)
        thread = threading.Thread(target=worker.run, daemon=True)
        with _Producer(streams, push):
            started, cpu = time.monotonic(), time.process_time()
            thread.start()
            _wait_until(ledger, stop, started)
            if measure is not None:  # this process: the worker's threads, and little else
                measure["cpu_s"] = time.process_time() - cpu
                measure["wall_s"] = time.monotonic() - started
        worker.stop()
        thread.join(30)
    drop_queue(url, config.queue.name)
    return ledger.snapshot()


def run_fifo(url: str, streams: Sequence[Stream], stop: StopRule) -> list[Dispatch]:
    """The control: the same workload through one plain Redis list, the same threads."""
    client = redis.Redis.from_url(url)
    key = f"bench-fifo-{time.time_ns()}"
    by_user = {s.user: s for s in streams}
    ledger: Ledger[Dispatch] = Ledger()
    stopped = threading.Event()

    def push(s: Stream, n: int) -> None:
        for i in range(0, n, PUSH_CHUNK):
            client.rpush(key, *_payloads(s, min(PUSH_CHUNK, n - i)))

    def run() -> None:
        c = redis.Redis.from_url(url)
        while not stopped.is_set():
            raw = c.lpop(key)
            if raw is None:
                time.sleep(0.001)
                continue
            item = json.loads(raw if isinstance(raw, bytes | str) else str(raw))
            s = by_user[item["u"]]
            started = time.time()
            time.sleep(s.work_s)
            ledger.add(
                Dispatch(s.user, s.tenant, started, time.time(), (started - item["t"]) * 1000)
            )
        c.close()

    for s in streams:
        if not s.rate and not s.start_s:
            push(s, s.count)
    threads = [threading.Thread(target=run, daemon=True) for _ in range(CONCURRENCY)]
    with _Producer(streams, push):
        started = time.monotonic()
        for t in threads:
            t.start()
        _wait_until(ledger, stop, started)
    stopped.set()
    for t in threads:
        t.join(10)
    client.delete(key)
    client.close()
    return ledger.snapshot()


# ------------------------------------------------------------------------------ measures


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def p_of_p(rows: Sequence[Dispatch], users: set[str], q: float = 0.90) -> float:
    """The percentile of percentiles: the median over ``users`` of each user's p90 wait (ms),
    as Temporal's fairness simulator reports it."""
    per_user = [[d.wait_ms for d in rows if d.user == u] for u in sorted(users)]
    return statistics.median([percentile(w, q) for w in per_user if w]) if per_user else 0.0


def waits(rows: Sequence[Dispatch], users: set[str]) -> list[float]:
    return [d.wait_ms for d in rows if d.user in users]


def jain(amounts: dict[str, float], fair: dict[str, float]) -> float:
    """Jain's index of what each party got, each normalised by its fair amount (1 = fair)."""
    xs = [amounts.get(p, 0.0) / f for p, f in fair.items() if f > 0]
    total, squares = sum(xs), sum(x * x for x in xs)
    return (total * total) / (len(xs) * squares) if squares else 1.0


def worker_time(rows: Sequence[Dispatch], start: float, end: float) -> dict[str, float]:
    """Seconds of worker time each group (tenant, or tenant-less user) got in [start, end]."""
    out: dict[str, float] = {}
    for d in rows:
        overlap = min(d.ended, end) - max(d.started, start)
        if overlap > 0:
            out[d.group] = out.get(d.group, 0.0) + overlap
    return out


def span(rows: Sequence[Dispatch], skip: float = 0.1) -> tuple[float, float]:
    """The run's measured interval: from ``skip`` of the way in (warm-up left out) to the
    last start."""
    first = min(d.started for d in rows)
    last = max(d.started for d in rows)
    return first + (last - first) * skip, last
