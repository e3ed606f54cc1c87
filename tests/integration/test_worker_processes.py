"""Worker processes from the CLI: the DLQ round trip and a bad handler spec.

The signal faults (SIGKILL, SIGSTOP, SIGTERM) are in tests/reliability."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from fairque import Task, TaskQueue
from tests.support.processes import WorkerProcesses
from tests.support.waiting import wait_for


@pytest.fixture(params=["sync", "async"])
def workers(request, server_url, queue_name, tmp_path):
    procs = WorkerProcesses(
        server_url,
        queue_name,
        tmp_path,
        mode=request.param,
        settings={"QUEUE__RETRY_BASE_SECONDS": "0.05"},
    )
    yield procs
    procs.stop_all()


def test_failing_tasks_reach_the_dlq_and_a_requeue_runs_them_again(workers, make_config):
    with TaskQueue(make_config()) as queue:
        queue.push(Task.create("u1", 3, {"fail": True}, task_id="doomed", max_attempts=2))
        a = workers.start("wA")
        entry = wait_for(queue.dlq)[0]
        assert entry.error == "asked to fail: doomed" and entry.error_type == "RuntimeError"
        assert entry.attempts == 2
        assert len(workers.events("start")) == 2
        a.send_signal(signal.SIGTERM)
        a.wait(10)
        assert queue.requeue_dead(["doomed"]) == 1
        assert queue.get_task("doomed").state == "ready"
        b = workers.start("wB")
        wait_for(lambda: len(workers.events("start", b.pid)) >= 1)


def test_bad_handler_spec_is_a_usage_error(server_url, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "fairque.cli", "--redis-url", server_url, "worker",
         "--handler", "no_such_module_xyz:fn"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "cannot import 'no_such_module_xyz'" in proc.stderr
    assert "Traceback" not in proc.stderr
