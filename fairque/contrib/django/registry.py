"""The Django tasks of this process, by module path (``myapp.tasks.send_welcome``).

Only these run: a worker knows the tasks of the apps it was started with (each installed
app's ``tasks`` module, and the modules a backend's ``OPTIONS["MODULES"]`` names), and never
imports a name it read from the server. A web process finds the tasks it enqueued, and the
same modules, when it reads a result.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from fairque.contrib.django.compat import Task

_tasks: dict[str, Any] = {}
_lock = threading.Lock()
_discovered = False


def remember(task: Any) -> None:
    """A task this process enqueued (it is known from now on)."""
    _tasks.setdefault(task.module_path, task)


def discover(modules: Iterable[str] = ()) -> dict[str, Any]:
    """Import every installed app's ``tasks`` module and ``modules``; every Django task they
    define, by module path (imported once per process)."""
    global _discovered
    from django.apps import apps

    with _lock:
        if not _discovered:
            names = [f"{app.name}.tasks" for app in apps.get_app_configs()]
            found = [m for m in names if _has_module(m)]
            for name in [*found, *modules]:
                _collect(importlib.import_module(name))
            _discovered = True
        else:
            for name in modules:
                _collect(importlib.import_module(name))
        return dict(_tasks)


def find(module_path: str) -> Any | None:
    """The task of ``module_path``, if this process knows it (after discovering)."""
    if module_path not in _tasks:
        discover()
    return _tasks.get(module_path)


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # its package has no such module
        return False


def _collect(module: ModuleType) -> None:
    for value in vars(module).values():
        if isinstance(value, Task):
            _tasks.setdefault(value.module_path, value)
