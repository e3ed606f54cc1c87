"""Handlers for tests that run real worker processes.

Each run is written to an external ledger (a file named by FAIRQUE_TEST_LEDGER, one line
per event, appended atomically), so a test can count lost, duplicated and phantom runs
independently of what the queue says.
"""

from __future__ import annotations

import os
import time
from typing import Any

from fairque import Task, task


def _ledger(event: str, task_id: str) -> str:
    """Append one event; returns its time as written (it names the run)."""
    path = os.environ["FAIRQUE_TEST_LEDGER"]
    at = f"{time.time():.4f}"
    line = f"{event} {task_id} {os.getpid()} {at}\n".encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return at


def record(task: Task) -> dict[str, Any]:
    """Sleep ``payload["sleep"]`` seconds (default 0; ``payload["first_sleep"]`` instead on the
    first attempt), fail if ``payload["fail"]``. The result names the run: its process and the
    time of its ``start`` line in the ledger."""
    started = _ledger("start", task.task_id)
    payload = task.payload if isinstance(task.payload, dict) else {}
    first = task.lease is not None and task.lease.attempt == 1 and "first_sleep" in payload
    time.sleep(float(payload["first_sleep"] if first else payload.get("sleep", 0)))
    if payload.get("fail"):
        raise RuntimeError(f"asked to fail: {task.task_id}")
    _ledger("done", task.task_id)
    return {"pid": os.getpid(), "started": started}


@task("tests.noop")
def noop(task: Task) -> None:
    """A no-op for drains."""


def flaky_until_fixed(task: Task) -> str:
    """Fails while the file named by FAIRQUE_TEST_BROKEN exists ("downstream is down")."""
    if os.path.exists(os.environ["FAIRQUE_TEST_BROKEN"]):
        raise RuntimeError("downstream is down")
    _ledger("done", task.task_id)
    return "ok"


def progressing(task: Task) -> dict[str, Any]:
    """Report progress three times (0.2 s apart: each report is written on its own), then
    finish."""
    from fairque import progress

    for i in range(1, 4):
        progress(i / 3, step=i)
        time.sleep(0.2)
    return {"steps": 3}
