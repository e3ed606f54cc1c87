"""A worker in production, as a real process: probes answer, readiness follows the server,
`fairque health` sees a stopped worker, /metrics counts every outcome, JSON logs parse."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.server import EmbeddedServer, free_port
from tests.support.processes import ROOT
from tests.support.waiting import wait_for


def start_worker(url: str, directory: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = directory / "worker.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FAIRQUE_TEST_LEDGER": str(directory / "ledger"),
        "FAIRQUE_QUEUE__VISIBILITY_TIMEOUT": "2",
        "FAIRQUE_QUEUE__MAX_ATTEMPTS": "2",
        "FAIRQUE_QUEUE__RETRY_BASE_SECONDS": "0.05",
        "FAIRQUE_REDIS__SOCKET_TIMEOUT": "1",
        "FAIRQUE_REDIS__SOCKET_CONNECT_TIMEOUT": "0.5",
    }
    cmd = [
        *(sys.executable, "-m", "fairque.cli", "--redis-url", url, "--queue", "probed", "worker"),
        *("--handler", "tests.support.handlers:record", "--worker-id", "probed-1", *extra),
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    return proc, log


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def health(url: str, *args: str) -> int:
    cmd = [sys.executable, "-m", "fairque.cli", "--redis-url", url, "--queue", "probed", "health"]
    return subprocess.run([*cmd, *args], capture_output=True, check=False, timeout=60).returncode


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_probes_follow_the_server_and_health_sees_a_stopped_worker(tmp_path, mode):
    server = EmbeddedServer(directory=tmp_path / "data", appendonly=True).start()
    port = free_port()
    kind = ["--async"] if mode == "async" else []
    worker, _ = start_worker(server.url, tmp_path, "--health-port", str(port), *kind)
    try:
        wait_for(lambda: get(port, "/readyz")[0] == 200, timeout=60)
        status, body = get(port, "/healthz")
        assert status == 200 and json.loads(body)["worker_id"] == "probed-1"
        assert health(server.url, "--worker-id", "probed-1", "--max-age", "5") == 0
        server.stop()
        stopped = time.monotonic()
        wait_for(lambda: get(port, "/readyz")[0] == 503, timeout=10)
        assert time.monotonic() - stopped <= 2.0
        assert get(port, "/healthz")[0] == 200  # the loop still ticks: alive, not ready
        server.start()
        wait_for(lambda: get(port, "/readyz")[0] == 200, timeout=30)
        worker.send_signal(signal.SIGSTOP)
        try:
            assert wait_for(
                lambda: health(server.url, "--worker-id", "probed-1", "--max-age", "2") == 1,
                timeout=30,
            )
            assert health(server.url, "--worker-id", "nobody") == 1
        finally:
            worker.send_signal(signal.SIGCONT)
    finally:
        worker.terminate()
        worker.wait(20)
        server.stop()


def test_metrics_count_each_outcome_and_json_logs_carry_the_fields(tmp_path):
    server = EmbeddedServer().start()
    port = free_port()
    worker, log = start_worker(
        server.url, tmp_path, "--health-port", str(port), "--log-format", "json", "--log-tasks",
        "--task-timeout", "0.3", "--concurrency", "4",
    )  # fmt: skip
    config = FairQueueConfig(redis={"url": server.url}, queue={"name": "probed", "max_attempts": 2})
    try:
        with TaskQueue(config) as q:
            q.push_batch(
                [Task.create("ok", 3, {"secret": "hunter2"}, task_id=f"ok{i}") for i in range(5)]
                + [Task.create("bad", 3, {"fail": True}, task_id="bad0")]
                + [Task.create("slow", 3, {"sleep": 2, "secret": "x"}, task_id="slow0")]
            )
            wait_for(lambda: q.stats().dead >= 2, timeout=60)  # bad0 and slow0, twice each
        text = wait_for(lambda: (m := get(port, "/metrics")[1]) and "timed_out" in m and m, 30)
        counts = {}
        for line in text.splitlines():
            if line.startswith("fairque_task_run_seconds_count{"):
                labels, value = line.split("} ")
                outcome = labels.split('outcome="')[1].split('"')[0]
                counts[outcome] = counts.get(outcome, 0) + float(value)
        assert counts == {"completed": 5, "retried": 1, "dead": 1, "timed_out": 2}, counts
        assert "fairque_worker_fetch_seconds_count" in text
    finally:
        worker.terminate()
        worker.wait(20)
        server.stop()
    docs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    events = [d for d in docs if d.get("event") == "task"]
    assert {e["outcome"] for e in events} == {"completed", "retried", "dead", "timed_out"}
    for e in events:
        assert {"task_id", "user", "handler", "attempt", "outcome", "run_ms", "wait_ms"} <= set(e)
    assert all(e["error_type"] for e in events if e["outcome"] != "completed")
    assert "hunter2" not in log.read_text()  # no payload unless asked


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_worker_started_before_the_server_waits_for_it(tmp_path, mode):
    server = EmbeddedServer()  # not started yet: its port is chosen, nothing listens
    port = free_port()
    kind = ["--async"] if mode == "async" else []
    worker, log = start_worker(server.url, tmp_path, "--health-port", str(port), *kind)
    try:
        wait_for(lambda: get(port, "/healthz")[0] == 200, timeout=60)  # alive, waiting
        assert get(port, "/readyz")[0] == 503
        assert worker.poll() is None
        server.start()
        wait_for(lambda: get(port, "/readyz")[0] == 200, timeout=30)
        config = FairQueueConfig(redis={"url": server.url}, queue={"name": "probed"})
        with TaskQueue(config) as q:
            q.push(Task.create("late", 3, {}, task_id="after-start"))
            wait_for(lambda: (i := q.get_task("after-start")) and i.state == "completed", 30)
        assert "trying again" in log.read_text()
    finally:
        worker.terminate()
        worker.wait(20)
        server.stop()
