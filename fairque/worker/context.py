"""What a running handler can reach without arguments: its task's context, set by the worker
for the duration of the handler (threads and asyncio alike, through a context variable).

    from fairque import progress, cancel_requested

    @task("import")
    def run_import(task):
        for i, row in enumerate(rows):
            if cancel_requested():   # a sync handler stops cooperatively
                raise TaskCanceledError()
            progress((i + 1) / len(rows), row=i)

``progress`` only records the latest report: the worker writes it with the task (coalesced,
at most a few times a second), where ``get_task``, ``fairque task show``, the TUI and
``TaskQueue.watch`` see it.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Any

from fairque.core.exceptions import FairQueueError
from fairque.core.models import Task
from fairque.queue.control import check_progress


class TaskCanceledError(FairQueueError):
    """Raised in a handler whose task's cancel was asked for (``raise_if_canceled``); a
    handler may raise it itself. The task ends canceled: no retry, no DLQ."""


class TaskContext:
    """One run of a task: the task, its cancel flag, its latest progress report."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self._canceled = threading.Event()
        self._lock = threading.Lock()
        self._report: tuple[str, str] | None = None  # (fraction, note JSON) not yet written
        self.canceled_by: str | None = None

    # -- cancel ------------------------------------------------------------------------------

    @property
    def cancel_requested(self) -> bool:
        """Whether a cancel of this task was asked for: stop soon (raise, or return)."""
        return self._canceled.is_set()

    def raise_if_canceled(self) -> None:
        """Raise TaskCanceledError if a cancel was asked for."""
        if self._canceled.is_set():
            raise TaskCanceledError(f"task {self.task.task_id} was canceled")

    def wait_canceled(self, timeout: float | None = None) -> bool:
        """Sleep up to ``timeout`` seconds, waking at once if a cancel is asked for; returns
        whether it was (a sync handler's cancellable sleep)."""
        return self._canceled.wait(timeout)

    def request_cancel(self) -> None:
        """The worker learned that a cancel was asked for (it calls this)."""
        self._canceled.set()

    # -- progress ----------------------------------------------------------------------------

    def progress(self, fraction: float | None = None, **note: Any) -> None:
        """Record how far the task is: ``fraction`` from 0 to 1 (None: unchanged) and any
        JSON ``note`` (at most 16 KiB). Cheap: only the latest report is written.

        Raises:
            ValidationError: a fraction outside 0..1, or a note that is not JSON or too big.
        """
        report = check_progress(fraction, note)
        with self._lock:
            self._report = report

    def take_report(self) -> tuple[str, str] | None:
        """The report not written yet, if any (the worker calls this when it writes)."""
        with self._lock:
            report, self._report = self._report, None
        return report


_current: ContextVar[TaskContext | None] = ContextVar("fairque_task", default=None)


def current() -> TaskContext:
    """The running task's context.

    Raises:
        LookupError: called outside a handler run by a fairque worker.
    """
    ctx = _current.get()
    if ctx is None:
        raise LookupError("no fairque task runs here: call this inside a handler")
    return ctx


def progress(fraction: float | None = None, **note: Any) -> None:
    """Report the running task's progress (see :meth:`TaskContext.progress`)."""
    current().progress(fraction, **note)


def cancel_requested() -> bool:
    """Whether the running task's cancel was asked for."""
    return current().cancel_requested


def bind(ctx: TaskContext) -> Any:
    """Make ``ctx`` the current task's context (returns the token to :func:`unbind`)."""
    return _current.set(ctx)


def unbind(token: Any) -> None:
    _current.reset(token)
