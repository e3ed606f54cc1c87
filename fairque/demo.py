"""The demo: producers for a dozen users (one of them noisy), a thread worker and an asyncio
worker on one queue, and a few failing tasks so the DLQ fills.

Shared by ``fairque demo`` and the TUI. It shows the headline in numbers: however much the
noisy user queues, the others are served in turn and wait little.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel

from fairque.core.config import FairQueueConfig
from fairque.core.models import Priority, Task
from fairque.queue import TaskQueue
from fairque.scheduler import ScheduledTask, TaskScheduler
from fairque.worker import AsyncWorker, Worker

NOISY_USER = "noisy"
LIGHT_USERS = [f"tenant-{i:02d}" for i in range(1, 12)]
WORK_SECONDS = 0.002  # what each demo task "does"


class UserSummary(BaseModel):
    """What one user pushed and was served during the demo."""

    user_id: str
    pushed: int
    served: int
    share: float
    waiting: int
    p50_wait_ms: float | None
    max_wait_ms: float | None


class DemoSummary(BaseModel):
    """The per-user table the demo prints at the end."""

    duration_s: float
    served: int
    dead: int
    users: list[UserSummary]


@dataclass
class _Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    pushed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    served: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    waits: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def demo_config(url: str, queue: str = "demo") -> FairQueueConfig:
    """A thread worker and an asyncio worker sharing every user; tenant-01 has double weight."""
    return FairQueueConfig(
        redis={"url": url},
        queue={
            "name": queue,
            "users": {"tenant-01": {"weight": 2}},
            "visibility_timeout": 30,
            "max_attempts": 2,
            "retry_base_seconds": 0.2,
        },
        workers=[
            {"id": "demo-threads", "steal_targets": "*", "concurrency": 4},
            {"id": "demo-asyncio", "steal_targets": "*", "concurrency": 8},
        ],
    )


FAIL_RATE = 0.03  # some tasks fail every attempt, so the DLQ fills
FLOOD = 20_000  # what the noisy user queues at once


def _produce(config: FairQueueConfig, ledger: _Ledger, stop: threading.Event) -> None:
    rng = random.Random(7)
    with TaskQueue(config) as q:
        # The flood: the noisy user queues thousands of tasks at once.
        flood = [Task.create(NOISY_USER, Priority.NORMAL, {"n": i}) for i in range(FLOOD)]
        q.push_batch(flood)
        with ledger.lock:
            ledger.pushed[NOISY_USER] += len(flood)
        while not stop.is_set():
            batch = [
                Task.create(
                    u,
                    rng.choice([2, 3, 3, 4, 5]),
                    {"order": rng.randrange(10**6), "fail": rng.random() < FAIL_RATE},
                )
                for u in LIGHT_USERS
                if rng.random() < 0.6
            ]
            batch += [Task.create(NOISY_USER, 3, {"n": -1}) for _ in range(20)]
            q.push_batch(batch)
            with ledger.lock:
                for t in batch:
                    ledger.pushed[t.user_id] += 1
            stop.wait(0.05)


class DemoHandler:
    """Does a little work, fails when the payload says so, and records what it served."""

    def __init__(self, ledger: _Ledger, work_seconds: float = WORK_SECONDS) -> None:
        self.ledger = ledger
        self.work_seconds = work_seconds

    def __call__(self, task: Task) -> dict[str, bool]:
        started = time.time()
        wait_ms = (started - task.created_at.timestamp()) * 1000 if task.created_at else 0.0
        time.sleep(self.work_seconds)
        if task.attempts == 1:  # a retry's wait includes its backoff: count first runs only
            with self.ledger.lock:
                self.ledger.served[task.user_id] += 1
                self.ledger.waits[task.user_id].append(wait_ms)
        if isinstance(task.payload, dict) and task.payload.get("fail"):
            raise RuntimeError("payment provider said no (a demo failure)")
        return {"ok": True}


def _run_workers(
    config: FairQueueConfig, ledger: _Ledger, stop: threading.Event, work_seconds: float
) -> None:
    handler = DemoHandler(ledger, work_seconds)
    threads = Worker(config, handler, worker_id="demo-threads")
    aio = AsyncWorker(config, handler, worker_id="demo-asyncio")
    runners = [
        threading.Thread(target=threads.run, daemon=True),
        threading.Thread(target=lambda: asyncio.run(aio.run()), daemon=True),
    ]
    for r in runners:
        r.start()
    stop.wait()
    threads.stop()
    aio.stop()
    for r in runners:
        r.join(15)


def _run_scheduler(config: FairQueueConfig, ledger: _Ledger, stop: threading.Event) -> None:
    """A cron schedule firing every 10 seconds, so the demo's Schedules view has one."""
    scheduler = TaskScheduler(config)
    scheduler.add(
        ScheduledTask(name="demo-report", cron="* * * * * */10", user_id="reports",
                      payload={"report": "hourly"}),
        replace=True,
    )  # fmt: skip
    runner = threading.Thread(target=scheduler.run, daemon=True)
    runner.start()
    stop.wait()
    scheduler.stop()
    runner.join(10)


class DemoRun:
    """The demo running in background threads until ``stop()``: producers and two workers.

    ``fairque demo`` runs it for a while and prints the summary; the TUI's demo runs it for
    as long as the TUI is open."""

    def __init__(
        self, url: str, queue: str = "demo", *, work_seconds: float = WORK_SECONDS
    ) -> None:
        """``work_seconds`` is what each task takes: the TUI's demo makes it longer, so the
        noisy user's backlog lasts minutes and fair service stays visible."""
        self.config = demo_config(url, queue)
        self.work_seconds = work_seconds
        self._ledger = _Ledger()
        self._stop = threading.Event()
        self._failures: list[BaseException] = []
        self._threads: list[threading.Thread] = []
        self._started = 0.0

    def _guarded(self, target: Callable[..., None], *extra: object) -> threading.Thread:
        def run() -> None:
            try:
                target(self.config, self._ledger, self._stop, *extra)
            except BaseException as exc:
                self._failures.append(exc)
                self._stop.set()

        return threading.Thread(target=run, daemon=True, name=f"demo-{target.__name__}")

    def start(self) -> DemoRun:
        TaskQueue(self.config).open().close()  # a clear error now if the server is unreachable
        self._threads = [
            self._guarded(_produce),
            self._guarded(_run_workers, self.work_seconds),
            self._guarded(_run_scheduler),
        ]
        self._started = time.monotonic()
        for t in self._threads:
            t.start()
        return self

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``; returns early if a producer or worker failed."""
        self._stop.wait(seconds)

    def stop(self) -> DemoSummary:
        """Stop producers and workers; the per-user summary (raises what a thread raised)."""
        self._stop.set()
        for t in self._threads:
            t.join(10)
        elapsed = time.monotonic() - self._started
        if self._failures:
            raise self._failures[0]
        ledger = self._ledger
        total = sum(ledger.served.values()) or 1
        users = []
        for user in [NOISY_USER, *LIGHT_USERS]:
            waits = ledger.waits.get(user, [])
            users.append(
                UserSummary(
                    user_id=user,
                    pushed=ledger.pushed.get(user, 0),
                    served=ledger.served.get(user, 0),
                    share=round(ledger.served.get(user, 0) / total, 4),
                    waiting=ledger.pushed.get(user, 0) - ledger.served.get(user, 0),
                    p50_wait_ms=round(statistics.median(waits), 1) if waits else None,
                    max_wait_ms=round(max(waits), 1) if waits else None,
                )
            )
        with TaskQueue(self.config) as q:
            dead = q.stats().dead
        return DemoSummary(
            duration_s=round(elapsed, 1), served=sum(ledger.served.values()), dead=dead, users=users
        )


def run_demo(url: str, duration: float = 10.0, queue: str = "demo") -> DemoSummary:
    """Run producers and two workers for ``duration`` seconds; return the per-user summary."""
    run = DemoRun(url, queue).start()
    run.wait(duration)
    return run.stop()
