"""Django's tasks framework where it lives: ``django.tasks`` (Django 6) or the
``django-tasks`` backport (Django 4.2+, what the ``django`` extra installs before Python 3.12).
Both have the same classes; everything fairque uses of them is imported here once."""

from __future__ import annotations

from typing import Any

try:
    from django.tasks import exceptions as _exceptions
    from django.tasks import signals as _signals
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import Task, TaskContext, TaskError, TaskResult, TaskResultStatus
    from django.utils.json import normalize_json

    FRAMEWORK = "django.tasks"
except ImportError:  # before Django 6: the backport
    from django_tasks import exceptions as _exceptions
    from django_tasks import signals as _signals
    from django_tasks.backends.base import BaseTaskBackend
    from django_tasks.base import (
        Task,
        TaskContext,
        TaskError,
        TaskResult,
        TaskResultStatus,
    )
    from django_tasks.utils import normalize_json

    FRAMEWORK = "django_tasks"

TaskResultDoesNotExist: Any = _exceptions.TaskResultDoesNotExist
# Django 6 names it InvalidTask, the backport InvalidTaskError
InvalidTask: Any = getattr(_exceptions, "InvalidTask", None) or _exceptions.InvalidTaskError
task_enqueued: Any = _signals.task_enqueued

__all__ = [
    "FRAMEWORK",
    "BaseTaskBackend",
    "InvalidTask",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskResult",
    "TaskResultDoesNotExist",
    "TaskResultStatus",
    "normalize_json",
    "task_enqueued",
]
