"""A soak: fairque running for N minutes the way production does, with faults, and a ledger.

    uv run python benchmarks/soak.py --minutes 30 [--rate 150] [--json]

On a fresh embedded Valkey (AOF on): producers push for 40 users at ``--rate`` tasks/s (mixed
priorities, 3% of tasks fail every attempt, 10% delayed by up to 3 s), with
``durability = "aof"`` so an acknowledged push is on disk; two thread workers and one asyncio
worker (separate processes, the ledger handler of the fault tests); a scheduler process with a
schedule every 10 s; a DLQ requeue every 2 minutes; a random worker SIGKILLed (and replaced)
every 40 s; one server kill -9 and restart at the middle. Then producers stop, the queue
drains, and the ledger is compared with what the producers had acknowledged:

- lost: acknowledged, never completed, and not dead (in the DLQ, or purged from it after
  3 minutes dead: an operator's round every 2 minutes requeues each new dead task once and
  purges those dead for longer);
- duplicated: completed more than once (allowed only for tasks a killed worker had started,
  or that were running when the server was killed: their acknowledgement may be lost);
- phantom: completed, never pushed (scheduled tasks are counted apart);

with throughput and ``used_memory`` per minute (memory should be flat after the first five).
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from fairque import FairQueueConfig, FairQueueError, Task, TaskQueue  # noqa: E402
from fairque.monitoring import Admin  # noqa: E402
from fairque.scheduler import ScheduledTask, TaskScheduler  # noqa: E402
from fairque.server import EmbeddedServer  # noqa: E402
from tests.support.ledger import read_ledger  # noqa: E402
from tests.support.processes import WorkerProcesses  # noqa: E402

QUEUE = "soak"
USERS = 40
KILL_EVERY = 40.0
REQUEUE_EVERY = 120.0
RESULT_TTL = 60  # finished tasks stay readable this long (memory holds about a minute of them)
PURGE_AFTER = 180.0  # dead for longer than this: purged at the next requeue round


class Producer(threading.Thread):
    """Pushes at ``rate`` tasks/s, each retried (idempotent by id) until acknowledged."""

    def __init__(self, config: FairQueueConfig, rate: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.config, self.rate, self.rng = config, rate, random.Random(seed)
        self.acked: set[str] = set()
        self.failing: set[str] = set()
        self.attempted = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        with TaskQueue(self.config) as q:
            i, start = 0, time.monotonic()
            while not self.stopping.is_set():
                r = self.rng.random()
                payload: dict[str, Any] = {"sleep": self.rng.choice((0, 0.001, 0.005, 0.02))}
                if r < 0.03:
                    payload["fail"] = True
                delay = self.rng.uniform(0.1, 3) if 0.03 <= r < 0.13 else None
                task = Task.create(
                    f"tenant-{self.rng.randrange(USERS)}", self.rng.choice((1, 2, 3, 3, 4, 5, 6)),
                    payload, task_id=f"p{i}", delay=delay, max_attempts=2,
                )  # fmt: skip
                self.attempted = i + 1
                while not self.stopping.is_set():
                    try:
                        q.push(task)
                        self.acked.add(task.task_id)
                        if payload.get("fail"):
                            self.failing.add(task.task_id)
                        break
                    except FairQueueError:
                        time.sleep(0.1)
                i += 1
                time.sleep(max(0.0, start + i / self.rate - time.monotonic()))


class Soak:
    """The processes of one soak, the faults it injects, and what it measured."""

    def __init__(self, minutes: float, rate: float, workdir: Path) -> None:
        self.minutes, self.rate = minutes, rate
        self.server = EmbeddedServer(directory=workdir / "data", appendonly=True).start()
        url = self.server.url
        self.config = FairQueueConfig(
            redis={"url": url, "durability": "aof", "socket_timeout": 2},
            queue={"name": QUEUE, "retry_base_seconds": 0.2, "visibility_timeout": 5,
                   "result_ttl": RESULT_TTL},
        )  # fmt: skip
        self.client = redis.Redis.from_url(url)
        settings = {"QUEUE__VISIBILITY_TIMEOUT": "5", "QUEUE__RETRY_BASE_SECONDS": "0.2",
                    "QUEUE__RESULT_TTL": str(RESULT_TTL)}  # fmt: skip
        # Both write the same ledger (one file in workdir).
        self.spawn = {
            "sync": WorkerProcesses(url, QUEUE, workdir, mode="sync", settings=settings),
            "async": WorkerProcesses(url, QUEUE, workdir, mode="async", settings=settings),
        }
        TaskScheduler(self.config).add(
            ScheduledTask(name="every-10s", cron="* * * * * */10", user_id="cron", payload={})
        )
        self.scheduler = subprocess.Popen(
            [sys.executable, "-m", "fairque.cli", "--redis-url", url, "--queue", QUEUE,
             "scheduler", "run"],
            env=self.spawn["sync"].env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.live = [self._worker("sync", 0), self._worker("sync", 1), self._worker("async", 2)]
        self.killed: list[int] = []
        self.requeued = 0
        self.purged: set[str] = set()
        self.requeued_ids: set[str] = set()
        self.restarted: float | None = None
        self.per_minute: list[dict[str, Any]] = []
        self._done_before = 0
        self.producer = Producer(self.config, rate, seed=7)
        self.rng = random.Random(11)

    def _worker(self, kind: str, n: int) -> tuple[str, subprocess.Popen[bytes]]:
        concurrency = "8" if kind == "sync" else "32"
        return kind, self.spawn[kind].start(f"{kind}-{n}", "--concurrency", concurrency)

    def kill_a_worker(self) -> None:
        k = self.rng.randrange(len(self.live))
        kind, proc = self.live[k]
        proc.kill()
        proc.wait(10)
        self.killed.append(proc.pid)
        self.live[k] = self._worker(kind, len(self.killed) + 10)

    def requeue_the_dlq(self) -> None:
        """An operator's round: requeue what died since the last round, once (a task that fails
        every attempt comes back to the DLQ and stays), and purge what has been dead for a
        while, noting the ids."""
        with TaskQueue(self.config) as q:
            entries = q.dlq(limit=100_000)
        cutoff = time.time() - PURGE_AFTER
        old = [e.task_id for e in entries if e.failed_at and e.failed_at.timestamp() < cutoff]
        fresh = [e.task_id for e in entries if e.task_id not in self.requeued_ids]
        with Admin(self.config) as admin:
            if old:
                admin.purge(old)
                self.purged.update(old)
            fresh = [t for t in fresh if t not in self.purged]
            if fresh:
                self.requeued += admin.requeue(fresh).touched
                self.requeued_ids.update(fresh)

    def restart_the_server(self) -> None:
        self.server.kill()  # kill -9
        self.restarted = time.time()
        time.sleep(0.5)
        self.server.start()  # same port, same AOF

    def sample_minute(self) -> None:
        done = sum(1 for r in read_ledger(self.spawn["sync"].ledger) if r.event == "done")
        try:
            memory = int(self.client.info("memory")["used_memory"])
        except redis.RedisError:
            memory = -1
        minute = len(self.per_minute) + 1
        self.per_minute.append(
            {"minute": minute, "completed": done - self._done_before, "used_memory": memory}
        )
        print(f"minute {minute}: {done - self._done_before:,} completed, "
              f"used_memory {memory:,} B", flush=True)  # fmt: skip
        self._done_before = done

    def run(self) -> None:
        self.producer.start()
        started = time.monotonic()
        end = started + self.minutes * 60
        due = {"kill": started + KILL_EVERY, "requeue": started + REQUEUE_EVERY,
               "restart": started + self.minutes * 30, "minute": started + 60}  # fmt: skip
        while (now := time.monotonic()) < end:
            if now >= due["kill"]:
                self.kill_a_worker()
                due["kill"] += KILL_EVERY
            if now >= due["requeue"]:
                self.requeue_the_dlq()
                due["requeue"] += REQUEUE_EVERY
            if now >= due["restart"]:
                self.restart_the_server()
                due["restart"] = float("inf")
            if now >= due["minute"]:
                self.sample_minute()
                due["minute"] += 60
            time.sleep(0.2)
        self.producer.stopping.set()
        self.producer.join(30)
        deadline = time.monotonic() + 120  # drain: everything completed or dead
        while time.monotonic() < deadline:
            with TaskQueue(self.config) as q:
                s = q.stats()
            if s.ready + s.inflight + s.delayed == 0:
                break
            time.sleep(1)

    def stop(self) -> None:
        self.producer.stopping.set()
        self.scheduler.send_signal(signal.SIGTERM)
        for spawner in self.spawn.values():
            spawner.stop_all()
        try:
            self.scheduler.wait(10)
        except subprocess.TimeoutExpired:
            self.scheduler.kill()

    def result(self) -> dict[str, Any]:
        rows = read_ledger(self.spawn["sync"].ledger)
        runs = Counter(r.task_id for r in rows if r.event == "done")
        acked = self.producer.acked
        with TaskQueue(self.config) as q:
            dead = {e.task_id for e in q.dlq(limit=100_000)} | self.purged
            states = {t: q.get_task(t) for t in acked - set(runs) - dead}
        self.server.stop()
        by_killed = {r.task_id for r in rows if r.event == "start" and r.pid in self.killed}
        at = self.restarted
        at_restart = {
            r.task_id
            for r in rows
            if r.event == "start" and at is not None and at - 5 <= r.at <= at
        }
        duplicated = {t for t, n in runs.items() if n > 1}
        ours = {t for t in runs if t.startswith("p")}
        memory = [m["used_memory"] for m in self.per_minute[5:] if m["used_memory"] > 0]
        return {
            "minutes": self.minutes,
            "rate": self.rate,
            "acked_pushes": len(acked),
            "completed": sum(1 for t in acked if t in runs),
            "dead_in_dlq": len(dead & acked),
            "expected_dead": len(self.producer.failing),
            "lost": sorted(t for t, i in states.items() if i is None or i.state != "dead"),
            "duplicated": len(duplicated),
            "duplicated_unexplained": sorted(duplicated - by_killed - at_restart),
            "phantom": sorted(ours - {f"p{i}" for i in range(self.producer.attempted)}),
            "scheduled_runs": sum(n for t, n in runs.items() if t not in ours),
            "worker_kills": len(self.killed),
            "dlq_requeued": self.requeued,
            "dlq_purged": len(self.purged),
            "server_restarts": 0 if at is None else 1,
            "per_minute": self.per_minute,
            "memory_after_minute_5": {"min": min(memory), "max": max(memory)} if memory else None,
        }


def run(minutes: float, rate: float, workdir: Path) -> dict[str, Any]:
    soak = Soak(minutes, rate, workdir)
    try:
        soak.run()
    finally:
        soak.stop()
    return soak.result()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=150, help="tasks pushed per second")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fairque-soak-") as tmp:
        result = run(args.minutes, args.rate, Path(tmp))
    if args.json:
        print(json.dumps(result))
    else:
        shown = {k: v for k, v in result.items() if k != "per_minute"}
        for key, value in shown.items():
            print(f"{key}: {value}")
    bad = result["lost"] or result["phantom"] or result["duplicated_unexplained"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
