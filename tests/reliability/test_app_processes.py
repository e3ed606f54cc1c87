"""The application side as separate processes, the way a deployment runs it: a result awaited
from another process (completed, dead, canceled, timed out: `fairque task wait`'s exit codes),
a wait that outlives a server restart, a waiter woken once a killed worker's task is retried and
done, the progress stream, burst mode and an embedded worker with no config."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.server import EmbeddedServer
from tests.support.processes import ROOT, WorkerProcesses
from tests.support.waiting import wait_for


def env_of(url: str, queue: str, **settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FAIRQUE_REDIS_URL": url,
        "FAIRQUE_QUEUE": queue,
        **{f"FAIRQUE_{k}": v for k, v in settings.items()},
    }


def waiter(url: str, queue: str, task_id: str, *extra: str, **settings: str) -> Any:
    """`fairque task wait` in a process of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "fairque.cli", "task", "wait", task_id, *extra],
        env=env_of(url, queue, **settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def armed(q: TaskQueue, task_id: str) -> bool:
    """Whether a wait is armed on the task (its 'w' mark)."""
    return bool(q.client.hget(q.session.keys.task(task_id), "w"))


def finish(proc: Any, timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def test_task_wait_from_another_process_and_its_exit_codes(server_url, queue_name, tmp_path):
    config = FairQueueConfig(redis={"url": server_url}, queue={"name": queue_name,
                                                               "max_attempts": 1})  # fmt: skip
    workers = WorkerProcesses(server_url, queue_name, tmp_path,
                              settings={"QUEUE__MAX_ATTEMPTS": "1"})  # fmt: skip
    with TaskQueue(config) as q:
        q.push(Task.create("u1", payload={}, task_id="ok"))
        q.push(Task.create("u1", payload={"fail": True}, task_id="bad"))
        q.push(Task.create("u2", payload={}, task_id="doomed"))
        q.push(Task.create("u3", payload={}, task_id="later", delay=3600))
        waits = {t: waiter(server_url, queue_name, t, "--timeout", "60") for t in ("ok", "bad")}
        waits["doomed"] = waiter(server_url, queue_name, "doomed", "--timeout", "60")
        wait_for(lambda: all(armed(q, t) for t in waits), timeout=30)
        q.cancel("doomed")  # canceled while a process waits on it
        workers.start("w1")
        try:
            code, out, _ = finish(waits["ok"])
            assert code == 0 and json.loads(out)["pid"] > 0
            code, out, _ = finish(waits["bad"])
            assert code == 4 and "RuntimeError" in out
            code, out, _ = finish(waits["doomed"])
            assert code == 5 and "canceled by" in out
            code, _, err = finish(waiter(server_url, queue_name, "later", "--timeout", "0.5"))
            assert code == 6 and "timed out" in err
            code, _, err = finish(waiter(server_url, queue_name, "nope", "--timeout", "1"))
            assert code == 1 and "no task nope" in err
        finally:
            workers.stop_all()


def test_a_wait_armed_before_a_server_restart_still_returns(tmp_path):
    server = EmbeddedServer(directory=tmp_path / "data", appendonly=True).start()
    try:
        # A server of its own, never a cluster (also in the cluster pass of the suite).
        config = FairQueueConfig(
            redis={"url": server.url, "cluster": False}, queue={"name": "restarts"}
        )
        with TaskQueue(config) as q:
            q.push(Task.create("u1", payload={}, task_id="r1"))
            wait = waiter(server.url, "restarts", "r1", "--timeout", "90",
                          REDIS__SOCKET_TIMEOUT="2", REDIS_CLUSTER="0")  # fmt: skip
            wait_for(lambda: armed(q, "r1"), timeout=30)
        time.sleep(1.2)  # appendfsync everysec: the mark and the task are on disk
        server.kill()
        time.sleep(0.5)
        server.start()  # same port, same AOF
        workers = WorkerProcesses(server.url, "restarts", tmp_path, settings={"REDIS_CLUSTER": "0"})
        workers.start("after-restart")
        try:
            code, out, err = finish(wait, timeout=90)
            assert code == 0, err
            assert json.loads(out)["pid"] == workers.procs[0].pid
        finally:
            workers.stop_all()
    finally:
        server.stop()


def test_a_waiter_is_woken_once_a_killed_workers_task_is_retried(server_url, queue_name, tmp_path):
    settings = {"QUEUE__VISIBILITY_TIMEOUT": "2", "QUEUE__RETRY_BASE_SECONDS": "0.1"}
    workers = WorkerProcesses(server_url, queue_name, tmp_path, settings=settings)
    config = FairQueueConfig(redis={"url": server_url}, queue={"name": queue_name})
    with TaskQueue(config) as q:
        q.push(Task.create("u1", payload={"first_sleep": 60}, task_id="k1"))
        wait = waiter(server_url, queue_name, "k1", "--timeout", "90")
        wait_for(lambda: armed(q, "k1"), timeout=30)
        doomed = workers.start("doomed")
        wait_for(lambda: workers.events("start"), timeout=30)
        doomed.kill()  # SIGKILL mid-task: its lease expires, the task is retried
        doomed.wait(10)
        survivor = workers.start("survivor")
        try:
            code, out, err = finish(wait, timeout=90)
            assert code == 0, err
            assert json.loads(out)["pid"] == survivor.pid  # the retry's result
            info = q.get_task("k1")
            assert info.attempts == 2 and info.state == "completed"
        finally:
            workers.stop_all()


WATCH = """
import sys
from fairque import TaskQueue
with TaskQueue() as q:
    for event in q.watch(sys.argv[1], timeout=60):
        print(event.kind, event.progress, event.info.state if event.info else "", flush=True)
"""


def test_the_progress_stream_reaches_a_watcher_process(server_url, queue_name, tmp_path):
    config = FairQueueConfig(redis={"url": server_url}, queue={"name": queue_name})
    workers = WorkerProcesses(
        server_url, queue_name, tmp_path, handler="tests.support.handlers:progressing"
    )
    with TaskQueue(config) as q:
        q.push(Task.create("u1", payload={}, task_id="p1"))
        watcher = subprocess.Popen(
            [sys.executable, "-c", WATCH, "p1"], env=env_of(server_url, queue_name),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_for(lambda: armed(q, "p1"), timeout=30)
        workers.start("w1")
        try:
            code, out, err = finish(watcher)
        finally:
            workers.stop_all()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:3] == ["progress 0.3333333333333333 ", "progress 0.6666666666666666 ",
                         "progress 1.0 "]  # fmt: skip
    assert lines[-1] == "ended None completed"


BURST = """
from fairque import Worker
worker = Worker(handler=lambda task: task.payload * 2)   # no config file, no [[workers]]
worker.run(burst=True)
print(worker.worker_id, worker.health().processed)
"""


def test_an_embedded_worker_with_no_config_drains_in_burst_and_exits(server_url, queue_name):
    config = FairQueueConfig(redis={"url": server_url}, queue={"name": queue_name})
    with TaskQueue(config) as q:
        ids = [q.push(Task.create(f"u{i % 3}", payload=i)).task_id for i in range(12)]
        done = subprocess.run(
            [sys.executable, "-c", BURST], env=env_of(server_url, queue_name),
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        worker_id, processed = done.stdout.split()
        host, pid = worker_id.rsplit("-", 1)
        assert host == socket.gethostname() and pid.isdigit() and int(processed) == 12
        assert [q.result(t, timeout=1) for t in ids] == [i * 2 for i in range(12)]
        assert q.stats().ready == 0
