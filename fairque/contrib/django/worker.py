"""Django tasks in a fairque worker:

    DJANGO_SETTINGS_MODULE=mysite.settings \\
        fairque worker --handler fairque.contrib.django.worker:unregistered --queue default

Importing this module sets Django up once and registers, as fairque handlers named by their
module paths, the Django tasks of the installed apps' ``tasks`` modules (and of the modules a
fairque backend's ``OPTIONS["MODULES"]`` lists): those run, nothing else. A task naming a
Django task this worker does not know goes to the DLQ as an unknown handler; one naming none
is refused by :func:`unregistered`. Database connections are closed around each task, as
Django does around a request.
"""

from __future__ import annotations

from typing import Any

import django
from django.conf import settings

from fairque.contrib.django import registry
from fairque.contrib.django.compat import TaskContext, TaskResult, TaskResultStatus, normalize_json
from fairque.core.models import Task
from fairque.worker.handlers import registry as handlers
from fairque.worker.task_refs import PayloadRejected

django.setup()


def unregistered(task: Task) -> Any:
    """The worker's handler for tasks that name none: not a Django task, never retried."""
    raise PayloadRejected(f"task {task.task_id} names no Django task")


def _modules() -> list[str]:
    """The task modules every fairque backend of the settings lists (OPTIONS["MODULES"])."""
    out: list[str] = []
    for entry in getattr(settings, "TASKS", {}).values():
        if "fairque" in str(entry.get("BACKEND", "")):
            out += entry.get("OPTIONS", {}).get("MODULES", [])
    return out


def runner(django_task: Any) -> Any:
    """The fairque handler that runs ``django_task`` with a task's stored arguments."""
    from django.db import close_old_connections

    def run(task: Task) -> Any:
        payload = task.payload if isinstance(task.payload, dict) else {}
        args, kwargs = payload.get("args", []), payload.get("kwargs", {})
        close_old_connections()
        try:
            if django_task.takes_context:
                context = TaskContext(task_result=_running(django_task, task, args, kwargs))
                value = django_task.call(context, *args, **kwargs)
            else:
                value = django_task.call(*args, **kwargs)
            return normalize_json(value)
        finally:
            close_old_connections()

    run.__name__ = django_task.name
    return run


def _running(django_task: Any, task: Task, args: Any, kwargs: Any) -> Any:
    """The TaskResult a task that takes its context sees while it runs."""
    lease = task.lease
    attempt = lease.attempt if lease else 1
    return TaskResult(
        task=django_task, id=task.task_id, status=TaskResultStatus.RUNNING,
        enqueued_at=task.created_at, started_at=None, finished_at=None, last_attempted_at=None,
        args=args, kwargs=kwargs, backend="fairque", errors=[],
        worker_ids=[lease.worker_id if lease else "?"] * attempt,
    )  # fmt: skip


REGISTERED = registry.discover(_modules())
for _path, _task in REGISTERED.items():
    handlers.register(_path, runner(_task))
