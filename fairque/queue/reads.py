"""Read-only operations: queue stats, one task's details, DLQ pages (sans-IO, like ops)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fairque.core.codec import decode_json
from fairque.core.keys import QueueKeys
from fairque.core.models import DLQEntry, Priority, QueueStats, TaskInfo, TaskState, UserBacklog
from fairque.core.validation import check_task_id
from fairque.queue.ops import CommandCall, Op, QueueSession
from fairque.queue.records import ms_time
from fairque.queue.session import Call

MAX_DEPENDENTS_SHOWN = 1000  # a task's dependents get_task lists (a fan-out may be wider)


def _int_map(flat: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for k, v in flat.items():
        try:
            out[k] = int(v)
        except ValueError:
            continue
    return out


def _json_or_text(text: str | None) -> Any:
    if not text:
        return None
    try:
        return decode_json(text)
    except ValueError:
        return text  # corrupt: show what is there rather than fail the read


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _time(text: str | None) -> Any:
    value = _int(text)
    return ms_time(str(value)) if value is not None else None


def task_info(task_id: str, h: dict[str, str], dependents: Sequence[str] = ()) -> TaskInfo:
    """A TaskInfo from a task hash and the ids of the tasks that wait on it (tolerates
    missing or malformed fields)."""
    state = h.get("state", "")
    try:
        state_value: TaskState | str = TaskState(state)
    except ValueError:
        state_value = state or "unknown"
    leased = state == TaskState.LEASED
    return TaskInfo(
        task_id=task_id,
        user_id=h.get("user"),
        priority=_int(h.get("pri")),
        state=state_value,
        attempts=_int(h.get("att")) or 0,
        max_attempts=_int(h.get("max_att")),
        handler=h.get("handler") or None,
        payload=_json_or_text(h.get("payload")),
        result=_json_or_text(h.get("result")),
        error=h.get("error") or None,
        error_type=h.get("etype") or None,
        traceback=h.get("tb") or None,
        worker_id=(h.get("worker") if leased else h.get("dworker") or h.get("worker")) or None,
        created_at=_time(h.get("created")),
        started_at=_time(h.get("started")),
        finished_at=_time(h.get("finished")),
        due_at=_time(h.get("due")) if state == TaskState.DELAYED else None,
        lease_deadline=_time(h.get("deadline")) if leased else None,
        progress=_fraction(h.get("prog")),
        progress_note=_json_or_text(h.get("pnote")),
        progress_at=_time(h.get("pat")),
        **_cancel_mark(h.get("cancel")),
        **_dependencies(h),
        dependents=tuple(dependents),
    )


def _dependencies(h: dict[str, str]) -> dict[str, Any]:
    """The fields of a task pushed with parents (none for the others)."""
    if not h.get("after") and not h.get("uk"):
        return {}
    parents = tuple(p for p in h.get("after", "").split(",") if p)
    return {
        "parents": parents,
        "after_policy": ("any_end" if h.get("apol") == "a" else "all_complete")
        if parents
        else None,
        "waiting_for": _int(h.get("deps")) if h.get("state") == TaskState.BLOCKED else None,
        "unique_key": h.get("uk") or None,
    }


def _fraction(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _cancel_mark(mark: str | None) -> dict[str, Any]:
    """The 'cancel' field, "who|when ms|ttl ms", as TaskInfo's fields (none when absent)."""
    if not mark:
        return {}
    who, _, rest = mark.rpartition("|")[0].rpartition("|")
    return {"canceled_by": who or rest, "canceled_at": _time(rest) if who else None}


def get_task(s: QueueSession, task_id: str) -> Op[TaskInfo | None]:
    """State, attempts, result or error of one task; None if unknown (or expired)."""
    check_task_id(task_id)
    h, kids = yield [
        CommandCall(("HGETALL", s.keys.task(task_id))),
        CommandCall(("LRANGE", s.keys.key("kids", task_id=task_id), 0, MAX_DEPENDENTS_SHOWN - 1)),
    ]
    return task_info(task_id, h, kids) if h else None


def get_tasks(s: QueueSession, task_ids: Sequence[str]) -> Op[list[TaskInfo | None]]:
    """Many tasks' hashes in one round trip (without their dependents' lists)."""
    ids = [check_task_id(t) for t in task_ids]
    if not ids:
        return []
    hashes = yield [CommandCall(("HGETALL", s.keys.task(t))) for t in ids]
    return [task_info(t, h) if h else None for t, h in zip(ids, hashes, strict=True)]


def dlq_entries(s: QueueSession, limit: int = 100, offset: int = 0) -> Op[list[DLQEntry]]:
    """A page of the DLQ, newest first."""
    ids = yield CommandCall(("ZREVRANGE", s.keys.key("dlq"), offset, offset + limit - 1))
    if not ids:
        return []
    hashes = yield [CommandCall(("HGETALL", s.keys.task(i))) for i in ids]
    entries = []
    for task_id, h in zip(ids, hashes, strict=True):
        info = task_info(task_id, h)
        pri = info.priority if info.priority is not None and 1 <= info.priority <= 6 else 3
        entries.append(
            DLQEntry(
                task_id=task_id,
                user_id=info.user_id or "?",
                priority=Priority(pri),
                payload=info.payload,
                handler=info.handler,
                attempts=info.attempts,
                error=info.error or "",
                error_type=info.error_type,
                traceback=info.traceback,
                worker_id=info.worker_id,
                failed_at=info.finished_at,
            )
        )
    return entries


def round_robin_reads(k: QueueKeys) -> list[Call]:
    """What :func:`round_robin_calls` needs: the pools with work, the tenants in them."""
    return [
        CommandCall(("ZRANGE", k.key("readyidx"), 0, -1)),
        CommandCall(("SMEMBERS", k.key("tactive"))),
    ]


def round_robin_calls(k: QueueKeys, pools: list[str], tenants: list[str]) -> list[Call]:
    """The sizes of every round-robin: each pool's entries, then each tenant's users."""
    calls: list[Call] = [CommandCall(("ZCARD", k.ready(p))) for p in pools]
    for pair in tenants:
        pool, _, tenant = pair.partition("|")
        calls.append(CommandCall(("ZCARD", k.key("tready", pool=pool, tenant=tenant))))
    return calls


def round_robin_users(sizes: list[Any], tenants: list[str]) -> int:
    """Users in the round-robins: a pool's entries count its tenants once each, so each
    tenant entry is replaced by the tenant's users."""
    return sum(int(x) for x in sizes) - len(tenants)


def stats(s: QueueSession) -> Op[QueueStats]:
    """A snapshot of counters and per-user backlog, in two pipelined round trips."""
    k = s.keys
    pool_names, tenants = yield round_robin_reads(k)  # pools with work, tenants in them
    replies = yield [
        CommandCall(("HGETALL", k.key("stats"))),
        CommandCall(("ZCARD", k.key("inflight"))),
        CommandCall(("ZCARD", k.key("delayed"))),
        CommandCall(("ZCARD", k.key("dlq"))),
        CommandCall(("HGETALL", k.key("backlog"))),
        CommandCall(("ZRANGE", k.key("ubacklog"), 0, -1, "WITHSCORES")),
        CommandCall(("HGETALL", k.key("uinflight"))),
        CommandCall(("HGETALL", k.key("blocked"))),
        *round_robin_calls(k, pool_names, tenants),
    ]
    counters, inflight, delayed, dead, backlog, ubacklog, uinflight, blocked, *ready_sizes = replies
    waiting = _int_map(blocked)
    per_user: dict[str, dict[int, int]] = {}
    for field, value in _int_map(backlog).items():
        user, _, pri = field.partition("|")
        if pri:
            per_user.setdefault(user, {})[int(pri)] = value
    totals = {user: int(score) for user, score in ubacklog}
    held = _int_map(uinflight)
    users = [
        UserBacklog(
            user_id=u,
            ready=totals.get(u, 0),
            by_priority=dict(sorted(per_user.get(u, {}).items())),
            inflight=held.get(u, 0),
            blocked=waiting.get(u, 0),
        )
        for u in sorted((set(totals) | set(held) | set(waiting)) - {"*"})
    ]
    return QueueStats(
        queue=s.queue.name,
        ready=int(_int_map(backlog).get("*", 0)),
        delayed=int(delayed),
        inflight=int(inflight),
        dead=int(dead),
        blocked=waiting.get("*", 0),
        active_users=round_robin_users(ready_sizes, tenants),
        counters=_int_map(counters),
        users=users,
    )


def busiest_users(s: QueueSession, n: int) -> Op[list[str]]:
    """The ``n`` users with the most ready tasks (shell completion of user names)."""
    top = yield CommandCall(("ZREVRANGE", s.keys.key("ubacklog"), 0, n - 1))
    return [str(user) for user in top]
