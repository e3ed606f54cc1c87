"""``FairQueueBackend``: a backend of Django's tasks framework that enqueues into fairque.

    TASKS = {"default": {"BACKEND": "fairque.contrib.django.FairQueueBackend",
                         "QUEUES": ["default"],
                         "OPTIONS": {"REDIS_URL": "redis://localhost:6379/0"}}}

A Django task's ``queue_name`` is the fairque queue it goes to; the fairque user (and tenant)
it is fair between comes from the view (``with fairque_user("acme"):``) or the enqueue's
``fairque_user=``/``fairque_tenant=`` keywords (taken out before the task runs), else
``OPTIONS["DEFAULT_USER"]``. Priorities map onto fairque's six (``fairque_priority``);
``run_after`` is a delayed task. Workers: ``fairque worker --handler
fairque.contrib.django.worker:unregistered`` (docs/frameworks.md).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async

from fairque.contrib.django import registry
from fairque.contrib.django.compat import (
    BaseTaskBackend,
    InvalidTask,
    TaskError,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
    normalize_json,
    task_enqueued,
)
from fairque.core.config import FairQueueConfig
from fairque.core.exceptions import FairQueueError
from fairque.core.models import Task, TaskInfo, TaskState
from fairque.core.validation import check_handler_name
from fairque.queue import TaskQueue

_who: ContextVar[tuple[str, str | None] | None] = ContextVar("fairque_django_user", default=None)


@contextmanager
def fairque_user(user: str, tenant: str | None = None) -> Iterator[None]:
    """Tasks enqueued inside belong to fairque user ``user`` (of ``tenant``): a view wraps
    its enqueues in it, with the user (or customer) the request is for."""
    token = _who.set((user, tenant))
    try:
        yield
    finally:
        _who.reset(token)


def fairque_priority(priority: int) -> int:
    """Django's priority (-100..100, larger runs sooner) as fairque's (1-6): 100 -> 6
    (critical), 50..99 -> 5, 1..49 -> 4, 0 -> 3 (normal), -49..-1 -> 2, -100..-50 -> 1."""
    if priority >= 100:
        return 6
    if priority >= 50:
        return 5
    if priority > 0:
        return 4
    if priority == 0:
        return 3
    return 2 if priority > -50 else 1


# fairque's state -> Django's result status (a canceled task is FAILED: Django has no such end)
_STATUS: dict[str, Any] = {
    TaskState.BLOCKED: TaskResultStatus.READY,
    TaskState.DELAYED: TaskResultStatus.READY,
    TaskState.READY: TaskResultStatus.READY,
    TaskState.LEASED: TaskResultStatus.RUNNING,
    TaskState.COMPLETED: TaskResultStatus.SUCCESSFUL,
    TaskState.DEAD: TaskResultStatus.FAILED,
    TaskState.CANCELED: TaskResultStatus.FAILED,
}


class FairQueueBackend(BaseTaskBackend):  # type: ignore[misc]
    """Django tasks into fairque queues (see the module's docstring). OPTIONS: ``REDIS_URL``
    (else fairque's own configuration: ``fairque.toml``, ``FAIRQUE_*``), ``DEFAULT_USER``
    (``"default"``), ``MODULES`` (modules of tasks besides the apps' ``tasks`` modules)."""

    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        options: dict[str, Any] = self.options
        self.default_user = str(options.get("DEFAULT_USER", "default"))
        self.modules = list(options.get("MODULES", []))
        url = options.get("REDIS_URL")
        base = FairQueueConfig.load()
        self.config = (
            base
            if not url
            else base.model_copy(update={"redis": base.redis.model_copy(update={"url": url})})
        )
        self._queues: dict[str, TaskQueue] = {}
        self._lock = threading.Lock()

    def queue(self, name: str) -> TaskQueue:
        """The fairque queue of a Django queue name (opened once, shared by threads)."""
        with self._lock:
            q = self._queues.get(name)
            if q is None:
                q = TaskQueue(self.config.model_copy(
                    update={"queue": self.config.queue.model_copy(update={"name": name})}
                )).open()  # fmt: skip
                self._queues[name] = q
            return q

    def close(self) -> None:
        with self._lock:
            for q in self._queues.values():
                q.close()
            self._queues.clear()

    # -- enqueueing --------------------------------------------------------------------------

    def validate_task(self, task: Any) -> None:
        super().validate_task(task)
        try:
            check_handler_name(task.module_path)
        except FairQueueError as exc:
            raise InvalidTask(f"{task.module_path}: {exc}") from None

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> Any:
        self.validate_task(task)
        kwargs = dict(kwargs)
        user, tenant = _who.get() or (self.default_user, None)
        user = str(kwargs.pop("fairque_user", user))
        tenant = kwargs.pop("fairque_tenant", tenant)
        payload = normalize_json({"args": list(args), "kwargs": kwargs})
        queue_name = task.queue_name
        fq_task = Task.create(
            user, fairque_priority(task.priority), payload,
            task_id=f"{queue_name}:{os.urandom(16).hex()}", handler=task.module_path,
            execute_after=task.run_after, tenant=tenant,
        )  # fmt: skip
        self.queue(queue_name).push(fq_task)
        registry.remember(task)
        result = TaskResult(
            task=task, id=fq_task.task_id, status=TaskResultStatus.READY,
            enqueued_at=datetime.now().astimezone(), started_at=None, finished_at=None,
            last_attempted_at=None, args=payload["args"], kwargs=payload["kwargs"],
            backend=self.alias, errors=[], worker_ids=[],
        )  # fmt: skip
        task_enqueued.send(type(self), task_result=result)
        return result

    # -- results -----------------------------------------------------------------------------

    def get_result(self, result_id: str) -> Any:
        """The task's result as it stands now (one read)."""
        q = self._queue_of(result_id)
        info = q.get_task(result_id) if q is not None else None
        if info is None:
            raise TaskResultDoesNotExist(result_id)
        return self._result(info)

    def wait_result(self, result_id: str, timeout: float | None = None) -> Any:
        """Wait for the task to finish (fairque's result wait: no polling) and return its
        result; ``fairque.ResultTimeout`` when ``timeout`` passes first."""
        q = self._queue_of(result_id)
        if q is None:
            raise TaskResultDoesNotExist(result_id)
        try:
            info = q.wait(result_id, timeout)
        except LookupError:  # fairque.TaskNotFound
            raise TaskResultDoesNotExist(result_id) from None
        return self._result(info)

    async def await_result(self, result_id: str, timeout: float | None = None) -> Any:
        """:meth:`wait_result` from async code."""
        return await sync_to_async(self.wait_result, thread_sensitive=False)(result_id, timeout)

    def _queue_of(self, result_id: str) -> TaskQueue | None:
        name, sep, _ = result_id.partition(":")
        if not sep or (self.queues and name not in self.queues):
            return None
        return self.queue(name)

    def _result(self, info: TaskInfo) -> Any:
        task = registry.find(info.handler or "") if info.handler else None
        if task is None:
            raise TaskResultDoesNotExist(
                f"{info.task_id}: its task {info.handler!r} is not one this process knows"
            )
        payload = info.payload if isinstance(info.payload, dict) else {}
        result = TaskResult(
            task=task, id=info.task_id, status=_STATUS.get(str(info.state), TaskResultStatus.READY),
            enqueued_at=info.created_at, started_at=info.started_at,
            finished_at=info.finished_at, last_attempted_at=info.started_at,
            args=payload.get("args", []), kwargs=payload.get("kwargs", {}), backend=self.alias,
            errors=_errors(info), worker_ids=[info.worker_id or "?"] * info.attempts,
        )  # fmt: skip
        if info.state == TaskState.COMPLETED:
            object.__setattr__(result, "_return_value", info.result)
        return result


def _errors(info: TaskInfo) -> list[Any]:
    """The task's error: of its death, or of its last failed attempt while it is retried."""
    if info.state == TaskState.CANCELED:
        why = f"canceled by {info.canceled_by}" if info.canceled_by else "canceled"
        return [TaskError(exception_class_path="fairque.core.exceptions.TaskCanceled",
                          traceback=why)]  # fmt: skip
    if info.state == TaskState.COMPLETED or not info.error:
        return []
    return [TaskError(exception_class_path=exception_path(info), traceback=info.traceback or "")]


def exception_path(info: TaskInfo) -> str:
    """The raised exception's class as Django names it (``module.Class``): the traceback's
    last line names it so for any class outside ``builtins``."""
    last = next((ln for ln in reversed((info.traceback or "").splitlines()) if ln.strip()), "")
    name = last.split(":", 1)[0].strip() or (info.error_type or "Exception")
    if not name.replace(".", "").replace("_", "").isalnum():
        name = info.error_type or "Exception"
    return name if "." in name else f"builtins.{name}"
