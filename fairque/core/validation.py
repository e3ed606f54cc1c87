"""Checks of ids and numbers that run before any key is built or anything is sent."""

from __future__ import annotations

import math
import re
from typing import Any

from fairque.core.exceptions import (
    InvalidCost,
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


def _describe(value: str) -> str:
    bad = sorted({ch for ch in value if not _USER_RE.fullmatch(ch)})
    return ", ".join(repr(ch) for ch in bad[:5])


def check_queue_name(name: object) -> str:
    """Return ``name`` if it can be a queue name, else raise :class:`InvalidQueueName`."""
    if not isinstance(name, str):
        raise InvalidQueueName(f"queue name must be a string, got {type(name).__name__}")
    if not name:
        raise InvalidQueueName("queue name must not be empty")
    if len(name) > QUEUE_NAME_MAX:
        raise InvalidQueueName(f"queue name is {len(name)} characters; at most {QUEUE_NAME_MAX}")
    if not _QUEUE_RE.fullmatch(name):
        bad = sorted({ch for ch in name if not _QUEUE_RE.fullmatch(ch)})
        raise InvalidQueueName(
            f"queue name {name!r} has forbidden characters "
            f"({', '.join(repr(c) for c in bad[:5])}); allowed: A-Z a-z 0-9 . _ -"
        )
    if name.lower() in RESERVED_QUEUE_NAMES:
        raise InvalidQueueName(f"queue name {name!r} is reserved")
    return name


def check_user_id(user_id: object) -> str:
    """Return ``user_id`` if valid, else raise :class:`InvalidUserId`."""
    if user_id is None:
        raise InvalidUserId("user_id is required")
    if not isinstance(user_id, str):
        raise InvalidUserId(f"user_id must be a string, got {type(user_id).__name__}")
    if not user_id:
        raise InvalidUserId("user_id must not be empty")
    if len(user_id) > USER_ID_MAX:
        raise InvalidUserId(f"user_id is {len(user_id)} characters; at most {USER_ID_MAX}")
    if not _USER_RE.fullmatch(user_id):
        raise InvalidUserId(
            f"user_id {user_id!r} has forbidden characters ({_describe(user_id)}); "
            "allowed: A-Z a-z 0-9 . _ : @ -"
        )
    return user_id


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
