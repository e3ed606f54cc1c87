"""R6: the server reaches maxmemory: pushes fail fast with a typed error, workers keep running,
and once memory is available again every acknowledged task completes: nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.core.exceptions import ServerOutOfMemory
from fairque.server import EmbeddedServer
from tests.support.ledger import events, report, tally
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_maxmemory_reached(tmp_path):
    ledger = tmp_path / "ledger"
    with EmbeddedServer(extra_args=["--maxmemory", "4mb"]) as srv:
        config = FairQueueConfig(redis={"url": srv.url}, queue={"name": "oom"})
        env = {**os.environ, "PYTHONPATH": str(ROOT), "FAIRQUE_TEST_LEDGER": str(ledger)}
        cmd = [
            *(sys.executable, "-m", "fairque.cli", "--redis-url", srv.url, "--queue", "oom"),
            *("worker", "--handler", "tests.support.handlers:record", "--concurrency", "2"),
        ]
        worker = subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        acked: list[str] = []
        try:
            with TaskQueue(config) as q:
                blob = "x" * 2000
                refused_in = None
                for i in range(100_000):
                    task = Task.create(
                        f"u{i % 4}", 3, {"sleep": 0.01, "blob": blob}, task_id=f"t{i}"
                    )
                    started = time.monotonic()
                    try:
                        q.push(task)
                    except ServerOutOfMemory as exc:
                        refused_in = time.monotonic() - started
                        assert "out of memory" in str(exc)
                        break
                    acked.append(task.task_id)
                assert refused_in is not None and refused_in < 1.0  # fails fast, typed
                assert q.get_task(f"t{len(acked)}") is None  # the refused push wrote nothing
                time.sleep(2)  # workers meet OOM too (their writes are refused) ...
                assert worker.poll() is None  # ... and keep running
                redis.Redis.from_url(srv.url).config_set("maxmemory", "0")  # the operator fixes it
                wait_for(
                    lambda: set(acked) <= set(events(ledger, "done")),
                    timeout=60,
                )
                wait_for(lambda: q.stats().counters.get("completed", 0) >= len(acked), timeout=30)
                t = tally(events(ledger, "done"), acked)
                report("R6 maxmemory reached, then raised", t, f"acked pushes {len(acked)}")
                assert t.lost == set() and t.phantom == set()
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(10)
        assert len(acked) > 100
