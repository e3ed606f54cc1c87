"""The demo: producers for a dozen users (one of them noisy) and workers on one queue.

Shared by ``fairque demo`` and the TUI. It shows the headline in numbers: however much the
noisy user queues, the others are served in turn and wait little.
"""

from __future__ import annotations

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
    users: list[UserSummary]


@dataclass
class _Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    pushed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    served: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    waits: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def demo_config(url: str, queue: str = "demo") -> FairQueueConfig:
    """Two workers sharing every user; tenant-01 pays for double weight."""
    return FairQueueConfig(
        redis={"url": url},
        queue={"name": queue, "users": {"tenant-01": {"weight": 2}}, "visibility_timeout": 30},
        workers=[
            {"id": "demo-worker-1", "steal_targets": "*"},
            {"id": "demo-worker-2", "steal_targets": "*"},
        ],
    )


def _produce(config: FairQueueConfig, ledger: _Ledger, stop: threading.Event) -> None:
    rng = random.Random(7)
    with TaskQueue(config) as q:
        # The flood: the noisy user queues thousands of tasks at once.
        flood = [Task.create(NOISY_USER, Priority.NORMAL, {"n": i}) for i in range(5000)]
        q.push_batch(flood)
        with ledger.lock:
            ledger.pushed[NOISY_USER] += len(flood)
        while not stop.is_set():
            batch = [
                Task.create(u, rng.choice([2, 3, 3, 4, 5]), {"order": rng.randrange(10**6)})
                for u in LIGHT_USERS
                if rng.random() < 0.6
            ]
            batch += [Task.create(NOISY_USER, 3, {"n": -1}) for _ in range(20)]
            q.push_batch(batch)
            with ledger.lock:
                for t in batch:
                    ledger.pushed[t.user_id] += 1
            stop.wait(0.05)


def _work(config: FairQueueConfig, worker_id: str, ledger: _Ledger, stop: threading.Event) -> None:
    with TaskQueue(config, worker_id=worker_id) as q:
        while not stop.is_set():
            task = q.pop()
            if task is None:
                stop.wait(0.01)
                continue
            started = time.time()
            wait_ms = (started - task.created_at.timestamp()) * 1000 if task.created_at else 0.0
            time.sleep(WORK_SECONDS)
            q.complete(task, {"ok": True})
            with ledger.lock:
                ledger.served[task.user_id] += 1
                ledger.waits[task.user_id].append(wait_ms)


def run_demo(url: str, duration: float = 10.0, queue: str = "demo") -> DemoSummary:
    """Run producers and two workers for ``duration`` seconds; return the per-user summary."""
    config = demo_config(url, queue)
    TaskQueue(config).open().close()  # a clear error now if the server is unreachable
    ledger = _Ledger()
    stop = threading.Event()
    failures: list[BaseException] = []

    def guarded(target: Callable[..., None], *args: object) -> threading.Thread:
        def run() -> None:
            try:
                target(*args)
            except BaseException as exc:
                failures.append(exc)
                stop.set()

        return threading.Thread(target=run, daemon=True)

    threads = [guarded(_produce, config, ledger, stop)]
    threads += [guarded(_work, config, w.id, ledger, stop) for w in config.workers]
    start = time.monotonic()
    for t in threads:
        t.start()
    stop.wait(duration)
    stop.set()
    for t in threads:
        t.join(10)
    elapsed = time.monotonic() - start
    if failures:
        raise failures[0]
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
    return DemoSummary(
        duration_s=round(elapsed, 1), served=sum(ledger.served.values()), users=users
    )
