"""R1: 2,000 tasks, 4 worker processes, a random worker SIGKILLed 10 times (and replaced):
nothing lost, every task completed, duplicates only among what the killed workers held."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from fairque import FairQueueConfig, Task, TaskQueue
from tests.support.handlers import read_ledger
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
SCALE = int(os.environ.get("FAIRQUE_RELIABILITY_SCALE", "1"))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_sigkill_workers_ten_times(server_url, queue_name, tmp_path, mode):
    n, kills, concurrency = 2000 * SCALE, 10 * SCALE, 4
    ledger = tmp_path / "ledger"
    config = FairQueueConfig(redis={"url": server_url}, queue={"name": queue_name})
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FAIRQUE_TEST_LEDGER": str(ledger),
        "FAIRQUE_QUEUE__VISIBILITY_TIMEOUT": "1",
        "FAIRQUE_QUEUE__RETRY_BASE_SECONDS": "0.05",
        "FAIRQUE_QUEUE__MAX_ATTEMPTS": "20",
    }

    def spawn(i: int) -> subprocess.Popen[bytes]:
        cmd = [
            *(
                sys.executable,
                "-m",
                "fairque.cli",
                "--redis-url",
                server_url,
                "--queue",
                queue_name,
            ),
            *("worker", "--handler", "tests.support.handlers:record", "--worker-id", f"w{i}"),
            *("--concurrency", str(concurrency), *(["--async"] if mode == "async" else [])),
        ]
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    with TaskQueue(config) as q:
        q.push_batch(
            [Task.create(f"u{i % 10}", 3, {"sleep": 0.02}, task_id=f"t{i}") for i in range(n)]
        )
        workers = {i: spawn(i) for i in range(4)}
        killed_pids: list[int] = []
        rng = random.Random(1)
        try:
            wait_for(lambda: len(read_ledger(str(ledger))) > 50)
            for k in range(kills):
                time.sleep(0.25)
                i = rng.randrange(4)
                workers[i].kill()  # SIGKILL while it holds tasks
                workers[i].wait(5)
                killed_pids.append(workers[i].pid)
                workers[i] = spawn(100 + k)
            wait_for(lambda: q.stats().counters.get("completed", 0) >= n, timeout=120)
        finally:
            for p in workers.values():
                p.send_signal(signal.SIGTERM)
            for p in workers.values():
                p.wait(10)
        rows = read_ledger(str(ledger))
        done = Counter(r[1] for r in rows if r[0] == "done")
        held_by_killed = {r[1] for r in rows if r[0] == "start" and r[2] in killed_pids}
        ids = {f"t{i}" for i in range(n)}
        lost = ids - set(done)
        duplicated = {t for t, c in done.items() if c > 1}
        phantom = set(done) - ids
        print(
            f"\nR1 {mode}: tasks {n}, kills {kills}, lost {len(lost)}, "
            f"duplicated {len(duplicated)}, phantom {len(phantom)}, "
            f"held by killed workers {len(held_by_killed)}"
        )
        assert lost == set() and phantom == set()
        assert duplicated <= held_by_killed
        assert len(duplicated) <= kills * concurrency
        assert q.stats().counters["completed"] == n
        assert all(q.get_task(t).state == "completed" for t in list(ids)[:200])
