"""Checks of ids and numbers that run before any key is built or anything is sent."""

from __future__ import annotations

import math
import re
from typing import Any

from fairque.core.exceptions import (
    InvalidCost,
    InvalidDependency,
    InvalidPriority,
    InvalidQueueName,
    InvalidSchedule,
    InvalidTaskId,
    InvalidTenantId,
    InvalidUserId,
)

QUEUE_NAME_MAX = 64
USER_ID_MAX = 128
TASK_ID_MAX = 128
# Delays longer than this are almost certainly a unit mistake (ms passed as s, a timestamp
# passed as a delay), so they are refused rather than parked for centuries.
MAX_DELAY_SECONDS = 366 * 24 * 3600

_QUEUE_RE = re.compile(r"[A-Za-z0-9._-]+")
_USER_RE = re.compile(r"[A-Za-z0-9._:@-]+")
_TASK_RE = re.compile(r"[A-Za-z0-9._:@-]+")
# Names that would read as paths or collide with fairque's own namespaces.
RESERVED_QUEUE_NAMES = frozenset({".", "..", "fq", "fairque", "_internal"})


def _checked_name(
    value: object, what: str, limit: int, pattern: re.Pattern[str], allowed: str, error: Any
) -> str:
    """``value`` if it is a non-empty string of at most ``limit`` characters matching
    ``pattern``; else ``error`` saying which rule it broke (and which characters)."""
    if not isinstance(value, str):
        raise error(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise error(f"{what} must not be empty")
    if len(value) > limit:
        raise error(f"{what} is {len(value)} characters; at most {limit}")
    if not pattern.fullmatch(value):
        bad = ", ".join(
            repr(ch) for ch in sorted({c for c in value if not pattern.fullmatch(c)})[:5]
        )
        raise error(f"{what} {value!r} has forbidden characters ({bad}); allowed: {allowed}")
    return value


def check_queue_name(name: object) -> str:
    """Return ``name`` if it can be a queue name, else raise :class:`InvalidQueueName`."""
    checked = _checked_name(
        name, "queue name", QUEUE_NAME_MAX, _QUEUE_RE, "A-Z a-z 0-9 . _ -", InvalidQueueName
    )
    if checked.lower() in RESERVED_QUEUE_NAMES:
        raise InvalidQueueName(f"queue name {checked!r} is reserved")
    return checked


def check_user_id(user_id: object) -> str:
    """Return ``user_id`` if valid, else raise :class:`InvalidUserId`."""
    if user_id is None:
        raise InvalidUserId("user_id is required")
    return _checked_name(
        user_id, "user_id", USER_ID_MAX, _USER_RE, "A-Z a-z 0-9 . _ : @ -", InvalidUserId
    )


def check_tenant_id(tenant: object) -> str:
    """Return ``tenant`` if valid (the user-id alphabet and length), else raise
    :class:`InvalidTenantId`."""
    if not isinstance(tenant, str):
        raise InvalidTenantId(f"tenant must be a string, got {type(tenant).__name__}")
    if not tenant or len(tenant) > USER_ID_MAX or not _USER_RE.fullmatch(tenant):
        raise InvalidTenantId(
            f"tenant {tenant!r} is malformed: 1-{USER_ID_MAX} characters from A-Z a-z 0-9 . _ : @ -"
        )
    return tenant


MAX_COST = 1e9


def check_cost(cost: object) -> float:
    """Return ``cost`` as a float if it is a finite number in (0, 1e9], else raise
    :class:`InvalidCost`."""
    if isinstance(cost, bool) or not isinstance(cost, int | float):
        raise InvalidCost(f"cost must be a number, got {type(cost).__name__} {cost!r}")
    value = float(cost)
    if not math.isfinite(value) or not 0 < value <= MAX_COST:
        raise InvalidCost(f"cost must be a finite number in (0, {MAX_COST:g}], got {cost!r}")
    return value


def check_task_id(task_id: object) -> str:
    """Return ``task_id`` if valid, else raise :class:`InvalidTaskId`."""
    if not isinstance(task_id, str):
        raise InvalidTaskId(f"task_id must be a string, got {type(task_id).__name__}")
    if not task_id or len(task_id) > TASK_ID_MAX or not _TASK_RE.fullmatch(task_id):
        raise InvalidTaskId(
            f"task_id {task_id!r} is malformed: 1-{TASK_ID_MAX} characters from "
            "A-Z a-z 0-9 . _ : @ -"
        )
    return task_id


def check_handler_name(name: object) -> str:
    """Return ``name`` if it can name a registered handler (same alphabet as task ids)."""
    if (
        not isinstance(name, str)
        or not name
        or len(name) > TASK_ID_MAX
        or not _TASK_RE.fullmatch(name)
    ):
        raise InvalidTaskId(
            f"handler name {name!r} is malformed: 1-{TASK_ID_MAX} characters from "
            "A-Z a-z 0-9 . _ : @ -"
        )
    return name


def check_priority(value: object) -> int:
    """Return ``value`` as an int 1..6, else raise :class:`InvalidPriority`.

    ``bool`` is refused although it is an ``int`` subclass: ``True`` as a priority is a bug.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPriority(
            f"priority must be an integer 1-6 (or a Priority), got {type(value).__name__} {value!r}"
        )
    if not 1 <= value <= 6:
        raise InvalidPriority(f"priority must be 1-6 (VERY_LOW..CRITICAL), got {value}")
    return value


def check_delay(seconds: object, what: str = "delay") -> float:
    """Return a finite, non-negative, plausible delay in seconds."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise InvalidSchedule(f"{what} must be a number of seconds, got {type(seconds).__name__}")
    value = float(seconds)
    if math.isnan(value) or math.isinf(value):
        raise InvalidSchedule(f"{what} must be finite, got {value}")
    if value < 0:
        raise InvalidSchedule(f"{what} must not be negative, got {value}")
    if value > MAX_DELAY_SECONDS:
        raise InvalidSchedule(
            f"{what} of {value:.0f} s is more than a year; pass seconds, not milliseconds"
        )
    return value


def check_max_attempts(value: Any) -> int:
    """Return ``value`` if it is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidSchedule(f"max_attempts must be an integer >= 1, got {value!r}")
    return int(value)


MAX_PARENTS = 1000  # parents one task may wait on (each is a list entry and a read at push)
_AFTER_POLICIES = ("all_complete", "any_end")


def check_after(after: object, task_id: str, policy: object) -> tuple[str, ...]:
    """The parent ids of a task (``after``: an id, a handle, or a sequence of them; anything
    with a ``task_id``), validated: each a valid task id, not the task itself, at most
    MAX_PARENTS, duplicates dropped."""
    if policy not in _AFTER_POLICIES:
        raise InvalidDependency(f"after_policy must be one of {_AFTER_POLICIES}, got {policy!r}")
    if after is None:
        return ()
    ids = after if isinstance(after, list | tuple | set | frozenset) else [after]
    out = tuple(dict.fromkeys(check_task_id(getattr(i, "task_id", i)) for i in ids))
    if task_id in out:
        raise InvalidDependency(f"task {task_id!r} cannot wait on itself")
    if len(out) > MAX_PARENTS:
        raise InvalidDependency(f"a task waits on at most {MAX_PARENTS} parents, got {len(out)}")
    return out


def check_unique_key(key: object) -> str:
    """A unique or debounce key: the task-id alphabet, 1-128 characters."""
    if not isinstance(key, str) or not key or len(key) > TASK_ID_MAX or not _TASK_RE.fullmatch(key):
        raise InvalidDependency(
            f"key {key!r} is malformed: 1-{TASK_ID_MAX} characters from A-Z a-z 0-9 . _ : @ -"
        )
    return key


def check_debounce(value: object) -> tuple[str, float, float]:
    """``(key, window seconds, max_wait seconds)``: a valid key, a window > 0, and a max wait
    no shorter than the window (both at most a day)."""
    if not isinstance(value, tuple | list) or len(value) != 3:
        raise InvalidDependency("debounce takes (key, window seconds, max_wait seconds)")
    key, window, max_wait = value
    check_unique_key(key)
    for name, v in (("window", window), ("max_wait", max_wait)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 86400:
            raise InvalidDependency(f"debounce {name} must be seconds in (0, 86400], got {v!r}")
    if max_wait < window:
        raise InvalidDependency(f"debounce max_wait ({max_wait}) is shorter than its window")
    return key, float(window), float(max_wait)
