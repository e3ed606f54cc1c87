"""What ``Admin`` reads and writes besides its scripts, as sans-IO operations and plain
helpers: DLQ selection by filters, membership, backlog counts, audit entries, the rate
override's arguments and the JSONL form of a drained task."""

from __future__ import annotations

import json
from typing import Any

from fairque.core.exceptions import FairQueueError, InvalidRate, ValidationError
from fairque.core.rates import default_burst, parse_rate
from fairque.core.validation import check_task_id, check_tenant_id, check_user_id
from fairque.queue.session import CommandCall, Op, QueueSession

CHUNK = 500
AUDIT_MAXLEN = 10_000


class ReadOnlyError(FairQueueError):
    """A mutation was asked of a read-only Admin (``--read-only``)."""

    refusal = True  # the command line exits with 3


def dlq_select(
    s: QueueSession, user: str | None, error: str | None, cutoff_ms: float | None
) -> Op[list[str]]:
    """The partition's DLQ ids matching every filter given, oldest first, read in pages."""
    k = s.keys
    chosen: list[str] = []
    start = 0
    while True:
        ids = yield CommandCall(("ZRANGE", k.key("dlq"), start, start + CHUNK - 1, "WITHSCORES"))
        if not ids:
            return chosen
        start += CHUNK
        fields = yield [CommandCall(("HMGET", k.task(i), "user", "error")) for i, _ in ids]
        for (task_id, died), (u, err) in zip(ids, fields, strict=True):
            if user is not None and u != user:
                continue
            if error is not None and error.lower() not in (err or "").lower():
                continue
            if cutoff_ms is not None and float(died) > cutoff_ms:
                continue
            chosen.append(task_id)


# Where a user's tasks of each cancellable state are indexed by id (ready ones are taken
# from the user's own lists by drain.lua instead).
_INDEX_OF_STATE = {"delayed": "delayed", "leased": "inflight"}


def user_tasks_in(s: QueueSession, user: str, state: str) -> Op[list[str]]:
    """The ids of ``user``'s delayed or leased tasks in this partition, read in pages of the
    queue-wide index of that state."""
    key = s.keys.key(_INDEX_OF_STATE[state])
    chosen: list[str] = []
    start = 0
    while True:
        ids = yield CommandCall(("ZRANGE", key, start, start + CHUNK - 1))
        if not ids:
            return chosen
        start += CHUNK
        owners = yield [CommandCall(("HGET", s.keys.task(i), "user")) for i in ids]
        chosen += [i for i, u in zip(ids, owners, strict=True) if u == user]


def in_dlq(s: QueueSession, ids: list[str]) -> Op[set[str]]:
    """Which of ``ids`` are in this partition's DLQ."""
    if not ids:
        return set()
    scores = yield [CommandCall(("ZSCORE", s.keys.key("dlq"), i)) for i in ids]
    return {i for i, sc in zip(ids, scores, strict=True) if sc is not None}


def backlog(s: QueueSession, user: str, priorities: list[int]) -> Op[int]:
    """How many ready tasks ``user`` has at ``priorities``."""
    counts = yield CommandCall(
        ("HMGET", s.keys.key("backlog"), *[f"{user}|{p}" for p in priorities])
    )
    return sum(int(c or 0) for c in counts)


def audit_call(
    s: QueueSession, actor: str, action: str, target: str, count: int, detail: dict[str, Any]
) -> CommandCall:
    """One audit entry (a capped stream: the newest ~10,000 are kept)."""
    return CommandCall(
        ("XADD", s.keys.key("audit"), "MAXLEN", "~", AUDIT_MAXLEN, "*",
         "actor", actor, "action", action, "target", target, "count", count,
         "detail", json.dumps(detail, default=str))
    )  # fmt: skip


def targets(
    task_ids: list[str] | None, all_: bool, user: str | None, error: str | None, older: bool
) -> list[str] | None:
    """Validate a DLQ selection: the ids given, or None when filters (or ``all``) select."""
    chosen = [bool(task_ids), all_, user is not None or error is not None or older]
    if sum(chosen) != 1:
        raise ValidationError(
            "choose exactly one of: task ids, all, or filters (user / error / age)"
        )
    if task_ids:
        return [check_task_id(t) for t in task_ids]
    if user is not None:
        check_user_id(user)
    return None


def limit_key(name: str, tenant: bool) -> str:
    """The rate-limit key of a user, or of a tenant (``+<tenant>``)."""
    return "+" + check_tenant_id(name) if tenant else check_user_id(name)


def rate_args(
    rate: str | None, burst: int | None, seconds: float | None
) -> tuple[list[str | int | float], int]:
    """user_admin's ``rate`` arguments and the burst in force; InvalidRate before anything
    is written."""
    per_second = parse_rate(rate) if rate is not None else None
    if burst is not None and (isinstance(burst, bool) or not isinstance(burst, int) or burst < 1):
        raise InvalidRate(f"burst must be a whole number >= 1, got {burst!r}")
    if seconds is not None and not seconds > 0:
        raise InvalidRate(f"the override's duration must be > 0 seconds, got {seconds!r}")
    tokens = burst or (default_burst(per_second) if per_second else 1)
    args: list[str | int | float] = [
        "" if per_second is None else repr(per_second),
        tokens,
        "" if seconds is None else round(seconds * 1000),
    ]
    return args, tokens


def describe(task_ids: list[str] | None, all_: bool, user: str | None, error: str | None) -> str:
    """A selection as the audit log names it."""
    if task_ids:
        return ",".join(task_ids[:10]) + (f" (+{len(task_ids) - 10})" if len(task_ids) > 10 else "")
    if all_:
        return "all"
    parts = [f"user={user}" if user else "", f"error~{error}" if error else ""]
    return " ".join(p for p in parts if p)


def exported(flat: list[str]) -> str:
    """A drained task (drain.lua's field/value row) as one JSONL line: enough to push it
    again."""
    h = dict(zip(flat[::2], flat[1::2], strict=True))
    try:
        payload: Any = json.loads(h.get("payload", "null"))
    except ValueError:
        payload = h.get("payload")
    record = {
        "task_id": h.get("id"),
        "user_id": h.get("user"),
        "priority": int(h.get("pri", 3)),
        "payload": payload,
        "handler": h.get("handler") or None,
        "max_attempts": int(h["max_att"]) if h.get("max_att") else None,
        "created_ms": int(h["created"]) if h.get("created") else None,
    }
    return json.dumps(record) + "\n"
