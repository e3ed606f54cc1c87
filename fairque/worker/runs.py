"""The records a worker keeps about its runs: a held task (``Running``), what became of it
(``Outcome``), the worker's status and the health it reports."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from fairque.core.models import Task
from fairque.queue import ops
from fairque.worker.context import TaskContext
from fairque.worker.handlers import BoundHandler
from fairque.worker.observe import SettledRun


class WorkerStatus(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class WorkerHealth(BaseModel):
    """What ``health()`` reports."""

    worker_id: str
    status: WorkerStatus
    healthy: bool
    inflight: int
    processed: int
    failed: int
    timed_out: int
    stolen: int
    seconds_since_server_contact: float | None
    last_error: str | None
    alive: bool = False  # the loop is ticking (liveness)
    ready: bool = False  # running, connected, not stopping (readiness)


class TaskTimeout(Exception):
    """A task ran past the worker's ``task_timeout``."""


@dataclass
class Running:
    """A task a worker holds, from lease to acknowledgement."""

    task: Task
    handler: BoundHandler | None
    started: float  # monotonic
    deadline: float | None  # monotonic; None = no time limit
    abandoned: bool = False  # timed out: its late result must be dropped
    context: TaskContext = field(init=False)  # what the handler reaches: cancel, progress
    cancel_deadline: float | None = None  # monotonic: its cancel's grace period ends
    batch: object | None = None  # the batch it runs in (batches.Batch), for a batch handler

    def __post_init__(self) -> None:
        self.context = TaskContext(self.task)


@dataclass
class Outcome:
    """What became of one run: a result to complete with, or a failure to report."""

    running: Running
    result: Any = None
    failure: ops.Failure | None = None
    finished: float = field(default_factory=time.monotonic)

    def facts(self, log_payloads: bool) -> SettledRun:
        task, f = self.running.task, self.failure
        lease = task.lease
        return SettledRun(
            task_id=task.task_id,
            user=task.user_id,
            handler=task.handler or "(default)",
            attempt=lease.attempt if lease else task.attempts,
            seconds=max(self.finished - self.running.started, 0.0),
            waited_ms=lease.waited_ms if lease else None,
            failed=f is not None,
            error_type=f.error_type if f else "",
            error=f.error if f else "",
            payload=task.payload if log_payloads else None,
        )
