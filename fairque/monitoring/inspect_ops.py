"""The Inspector's reads as sans-IO operations: each yields a bounded number of pipelined
steps (no scans of whole queues) and returns a typed snapshot."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

from fairque.core.models import TaskState
from fairque.core.rates import limit_in_force, next_token_ms, show_rate, tokens_left
from fairque.monitoring.models import (
    DLQGroup,
    DLQGroups,
    Explanation,
    Overview,
    PendingTask,
    ServerInfo,
    ThroughputPoint,
    Totals,
    UserDetail,
    UserPage,
    UserRow,
    WorkerInfo,
)
from fairque.monitoring.shares import fair_shares
from fairque.queue.ops import CommandCall, Op, QueueSession
from fairque.queue.reads import get_task, round_robin_calls, round_robin_reads, round_robin_users

MINUTES = 60
SHARE_WINDOW = 5  # minutes behind served share, failure rate, pushes
PRIORITIES = (6, 5, 4, 3, 2, 1)
_EVENTS = ("pushed", "popped", "completed", "failed", "retried", "dead")


def _c(*args: str | int | float) -> CommandCall:
    return CommandCall(args)


def _i(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _ts(ms: Any) -> datetime | None:
    value = _i(ms)
    return datetime.fromtimestamp(value / 1000, UTC) if value else None


def server_now(reply: list[str]) -> tuple[datetime, int]:
    """The server's TIME reply as (datetime, minute number)."""
    seconds = int(reply[0]) + int(reply[1]) / 1e6
    return datetime.fromtimestamp(seconds, UTC), int(seconds // 60)


def overview(s: QueueSession) -> Op[Overview]:
    """Totals, lifetime counters, the last hour per minute, server facts: two round trips."""
    k = s.keys
    pool_names, tenants, now_reply = yield [*round_robin_reads(k), _c("TIME")]
    sizes = round_robin_calls(k, pool_names, tenants)
    now, minute = server_now(now_reply)
    minutes = list(range(minute - MINUTES + 1, minute + 1))
    replies = yield [
        _c("HGET", k.key("backlog"), "*"),
        _c("ZCARD", k.key("delayed")),
        _c("ZCARD", k.key("inflight")),
        _c("ZCARD", k.key("dlq")),
        _c("ZCARD", k.key("ubacklog")),
        _c("SCARD", k.key("paused")),
        _c("ZCARD", k.key("workers")),
        _c("HGETALL", k.key("stats")),
        _c("INFO", "server"),
        _c("INFO", "memory"),
        _c("HGETALL", k.key("quarantine")),
        *sizes,
        *[_c("HGETALL", k.key("tp", minute=m)) for m in minutes],
    ]
    ready, delayed, inflight, dead, backlogged, paused, workers, counters, info, mem = replies[:10]
    quarantined = replies[10]
    rest = replies[11:]
    active = round_robin_users(rest[: len(sizes)], tenants)
    buckets = rest[len(sizes) :]
    info = {**info, **mem}
    counts = {key: _i(v) for key, v in counters.items()}
    return Overview(
        queue=s.queue.name,
        fetched_at=now,
        server=ServerInfo(
            name=str(info.get("server_name", "redis")),
            version=str(info.get("valkey_version") or info.get("redis_version", "?")),
            uptime_seconds=_i(info.get("uptime_in_seconds")),
            used_memory=_i(info.get("used_memory")),
            maxmemory=_i(info.get("maxmemory")),
            maxmemory_policy=str(info.get("maxmemory_policy", "?")),
        ),
        totals=Totals(
            ready=_i(ready),
            delayed=_i(delayed),
            inflight=_i(inflight),
            dead=_i(dead),
            backlogged_users=_i(backlogged),
            active_users=active,
            paused_users=_i(paused),
            workers=_i(workers),
        ),
        counters=counts,
        throughput=[
            ThroughputPoint(
                minute=datetime.fromtimestamp(m * 60, UTC), **{e: _i(b.get(e)) for e in _EVENTS}
            )
            for m, b in zip(minutes, buckets, strict=True)
        ],
        corrupt_records=counts.get("phantom", 0) + counts.get("corrupt", 0),
        corrupt_last_hour=sum(_i(b.get("phantom")) + _i(b.get("corrupt")) for b in buckets),
        quarantined=dict(sorted(quarantined.items())),
    )


def _percentile(values: list[int], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1])


def _parse_cfg(
    raw: str | None, default_weight: float, now_ms: int
) -> tuple[float, int, int | None]:
    """(weight in force, max_inflight or 0, boost end ms or None) from a settings entry
    ``weight|cap[|boosted weight|boost end ms]``."""
    if not raw:
        return default_weight, 0, None
    parts = raw.split("|")
    weight = float(parts[0]) if parts[0] else default_weight
    cap = _i(parts[1]) if len(parts) > 1 else 0
    if len(parts) == 4 and _i(parts[3]) > now_ms:
        return float(parts[2]), cap, _i(parts[3])
    return weight, cap, None


def _row_calls(s: QueueSession, user: str, minute: int) -> list[CommandCall]:
    k = s.keys
    calls = [
        _c("ZSCORE", k.key("ubacklog"), user),
        _c("HMGET", k.key("backlog"), *[f"{user}|{p}" for p in PRIORITIES]),
        _c("HGET", k.key("uinflight"), user),
        _c("SISMEMBER", k.key("paused"), user),
        _c("HMGET", k.key("settings"), user, f"~{user}", "#rate", f"%{user}", "#capmode"),
        _c("LRANGE", k.key("waits", user=user), 0, 99),
        _c("HGET", k.key("utenant"), user),
        _c("HGET", k.key("runtime"), user),
        _c("HGET", k.key("rlover"), user),
        _c("HGET", k.key("rl"), user),
        _c("ZSCORE", k.key("throttled"), user),
    ]
    calls += [CommandCall(("LINDEX", k.prio(user, p), 0), lenient=True) for p in PRIORITIES]
    calls += [
        _c("HGET", k.key("srv", minute=m), user)
        for m in range(minute - SHARE_WINDOW + 1, minute + 1)
    ]
    return calls


_HEAD_CALLS = 11  # the calls of _row_calls before the priority heads
_ROW_CALLS = _HEAD_CALLS + len(PRIORITIES) + SHARE_WINDOW


def _build_row(
    user: str,
    r: list[Any],
    *,
    now_us: int,
    now_ms: int,
    default_weight: float,
    served_total: int,
    fair_share: float,
) -> UserRow:
    ready, by_pri, held, paused, cfgs, waits, tenant, runtime, override, tat, wake = r[:_HEAD_CALLS]
    heads = r[_HEAD_CALLS : _HEAD_CALLS + len(PRIORITIES)]
    served = sum(_i(x) for x in r[_HEAD_CALLS + len(PRIORITIES) :])
    cfg, own_limit, default_limit, own_mode, default_mode = cfgs
    weight, cap, boost_end = _parse_cfg(cfg, default_weight, now_ms)
    limit = limit_in_force(override, own_limit or default_limit, now_ms)
    seqs = [int(h.split("|", 1)[0]) for h in heads if h]
    counts = dict(zip(PRIORITIES, (_i(x) for x in by_pri), strict=True))
    wait_values = sorted(_i(w) for w in waits)
    inflight = _i(held)
    return UserRow(
        user_id=user,
        tenant=tenant or None,
        weight=weight,
        boosted_until=_ts(boost_end),
        mean_run_seconds=round(float(runtime), 4) if runtime else None,
        ready=_i(ready),
        critical=counts[6],
        by_priority={p: counts[p] for p in (1, 2, 3, 4, 5)},
        inflight=inflight,
        max_inflight=cap or None,
        capped=bool(cap) and inflight >= cap,
        cap_mode=own_mode or default_mode or "hard",
        rate=show_rate(limit[0]) if limit else None,
        burst=limit[1] if limit else None,
        tokens=tokens_left(limit, tat, now_ms) if limit else None,
        throttled_until=_throttled_until(limit, tat, wake, now_ms),
        paused=bool(_i(paused)),
        oldest_age_seconds=round((now_us - min(seqs)) / 1e6, 3) if seqs else None,
        p50_wait_ms=_percentile(wait_values, 0.50),
        p95_wait_ms=_percentile(wait_values, 0.95),
        served_5m=served,
        served_share=round(served / served_total, 4) if served_total else 0.0,
        fair_share=round(fair_share, 4),
    )


def _throttled_until(
    limit: tuple[float, int] | None, tat: str | None, wake: str | None, now_ms: int
) -> datetime | None:
    """When a rate limit lets the user run again: its wake-up if a pop throttled it, or its
    empty bucket's next token (a pop that picks it now would throttle it until then)."""
    if wake and float(wake) > now_ms:
        return _ts(int(float(wake)))
    due = next_token_ms(limit, tat, now_ms) if limit else None
    return _ts(due) if due else None


def _share_context(s: QueueSession, minute: int) -> Op[tuple[float, int, float]]:
    """Default weight, tasks dispatched in the share window, total weight of backlogged users."""
    k = s.keys
    default_raw, backlogged, *served = yield [
        _c("HGET", k.key("settings"), "*"),
        _c("ZRANGE", k.key("ubacklog"), 0, -1),
        *[
            _c("HGET", k.key("tp", minute=m), "popped")
            for m in range(minute - SHARE_WINDOW + 1, minute + 1)
        ],
    ]
    default_weight = float(default_raw) if default_raw else s.queue.default_weight
    total_weight = 0.0
    if backlogged:
        cfgs = yield _c("HMGET", k.key("settings"), *backlogged)
        now_ms = minute * 60_000
        total_weight = sum(_parse_cfg(c, default_weight, now_ms)[0] for c in cfgs)
    return default_weight, sum(_i(x) for x in served), total_weight


def _window_shares(s: QueueSession, minute: int) -> Op[tuple[float, int, dict[str, float]]]:
    """Default weight, tasks dispatched in the share window, and every user's fair share of
    them (``monitoring.shares``: demand = served in the window + queued now)."""
    k = s.keys
    minutes = range(minute - SHARE_WINDOW + 1, minute + 1)
    default_raw, backlog, *served_by_minute = yield [
        _c("HGET", k.key("settings"), "*"),
        _c("ZRANGE", k.key("ubacklog"), 0, -1, "WITHSCORES"),
        *[_c("HGETALL", k.key("srv", minute=m)) for m in minutes],
    ]
    default_weight = float(default_raw) if default_raw else s.queue.default_weight
    served: dict[str, int] = {}
    for bucket in served_by_minute:
        for user, n in (bucket or {}).items():
            served[str(user)] = served.get(str(user), 0) + _i(n)
    demand = {str(u): float(score) for u, score in backlog}
    for user, n in served.items():
        demand[user] = demand.get(user, 0.0) + n
    weights: dict[str, float] = {}
    if demand:
        names = list(demand)
        cfgs = yield _c("HMGET", k.key("settings"), *names)
        now_ms = minute * 60_000
        weights = {
            u: _parse_cfg(c, default_weight, now_ms)[0] for u, c in zip(names, cfgs, strict=True)
        }
    capacity = sum(served.values())
    return default_weight, capacity, fair_shares(demand, weights, capacity)


def users(
    s: QueueSession,
    offset: int = 0,
    limit: int = 50,
    sort: str = "backlog",
    only: list[str] | None = None,
    include_idle: bool = False,
) -> Op[UserPage]:
    """A page of per-user rows, by backlog (largest first) or by name, or the rows of ``only``.

    ``include_idle`` adds, up to ``limit``, users with nothing queued that hold tasks in flight,
    are paused, or were served in the last few minutes (a live view wants to see users who are
    being served promptly, which is most of them when the queue is fair)."""
    k = s.keys
    now_reply = yield _c("TIME")
    now, minute = server_now(now_reply)
    now_ms = round(now.timestamp() * 1000)
    total = yield _c("ZCARD", k.key("ubacklog"))
    if only is not None:
        names = only
    elif sort == "name":
        all_names = yield _c("ZRANGE", k.key("ubacklog"), 0, -1)
        names = sorted(all_names)[offset : offset + limit]
    else:
        names = yield _c("ZREVRANGE", k.key("ubacklog"), offset, offset + limit - 1)
    if include_idle and only is None and len(names) < limit:
        inflight, paused, *served = yield [
            _c("HKEYS", k.key("uinflight")),
            _c("SMEMBERS", k.key("paused")),
            *[
                _c("HKEYS", k.key("srv", minute=m))
                for m in range(minute - SHARE_WINDOW + 1, minute + 1)
            ],
        ]
        seen = set(names)
        idle = sorted({*inflight, *paused, *(u for bucket in served for u in bucket)} - seen)
        names = [*names, *idle[: limit - len(names)]]
        total = max(_i(total), len(names))
    default_weight, served_total, fair = yield from _window_shares(s, minute)
    replies = yield [call for u in names for call in _row_calls(s, u, minute)] if names else []
    rows = [
        _build_row(
            u,
            replies[i * _ROW_CALLS : (i + 1) * _ROW_CALLS],
            now_us=round(now.timestamp() * 1e6),
            now_ms=now_ms,
            default_weight=default_weight,
            served_total=served_total,
            fair_share=fair.get(u, 0.0),
        )
        for i, u in enumerate(names)
    ]
    return UserPage(rows=rows, total_users=_i(total), offset=offset)


def user_detail(s: QueueSession, user: str, offset: int = 0, limit: int = 20) -> Op[UserDetail]:
    """One user's row, a page of pending tasks per priority, and its backlog over an hour."""
    page = yield from users(s, only=[user])
    row = page.rows[0]
    k = s.keys
    now_reply = yield _c("TIME")
    now, minute = server_now(now_reply)
    minutes = list(range(minute - MINUTES + 1, minute + 1))
    replies = yield [
        *[
            CommandCall(("LRANGE", k.prio(user, p), offset, offset + limit - 1), lenient=True)
            for p in PRIORITIES
        ],
        *[_c("HGET", k.key("psh", minute=m), user) for m in minutes],
        *[_c("HGET", k.key("srv", minute=m), user) for m in minutes],
        _c("HMGET", k.key("settings"), "#fairness", f"+{row.tenant}" if row.tenant else "*"),
    ]
    fairness, tenant_weight = replies.pop()
    lists = replies[: len(PRIORITIES)]
    pushed = [_i(x) for x in replies[len(PRIORITIES) : len(PRIORITIES) + MINUTES]]
    served = [_i(x) for x in replies[len(PRIORITIES) + MINUTES :]]
    now_us = now.timestamp() * 1e6
    pending = {
        p: [
            PendingTask(
                task_id=e.split("|", 1)[1],
                priority=p,
                age_seconds=round((now_us - int(e.split("|", 1)[0])) / 1e6, 3),
            )
            for e in entries or []
        ]
        for p, entries in zip(PRIORITIES, lists, strict=True)  # None: a broken key
    }
    # Walk back from the current backlog: each minute's end = next minute's end - net flow.
    history = [row.ready]
    for m in range(MINUTES - 1, 0, -1):
        history.append(max(history[-1] - pushed[m] + served[m], 0))
    return UserDetail(
        row=row,
        pending=pending,
        pending_offset=offset,
        backlog_history=history[::-1],
        fairness=fairness or "count",
        tenant_weight=(float(tenant_weight) if tenant_weight else 1.0) if row.tenant else None,
    )


def explain(s: QueueSession, task_id: str) -> Op[Explanation | None]:
    """Where a task is, and for a ready one, how much runs before it and what blocks it."""
    info = yield from get_task(s, task_id)
    if info is None:
        return None
    state = str(info.state)
    base = {
        "task_id": task_id,
        "state": state,
        "user_id": info.user_id,
        "priority": info.priority,
        "error": info.error,
    }
    if state == TaskState.LEASED:
        return Explanation(
            **base,
            summary=f"running on worker {info.worker_id}, lease until {info.lease_deadline}",
            worker_id=info.worker_id,
            lease_deadline=info.lease_deadline,
        )
    if state == TaskState.DELAYED:
        return Explanation(
            **base,
            summary=f"waiting until {info.due_at} (a delay or a retry backoff), then ready",
            due_at=info.due_at,
            blocked_by=["not due yet"],
        )
    if state == TaskState.DEAD:
        return Explanation(
            **base,
            summary=f"in the DLQ after {info.attempts} attempts: {info.error}",
            blocked_by=["dead: requeue it to run again"],
        )
    if state in (TaskState.COMPLETED, TaskState.CANCELED):
        return Explanation(**base, summary=f"{state}; nothing will run it again")
    if state != TaskState.READY:
        return Explanation(**base, summary=f"unknown state {state!r}: the record may be corrupt")
    reply = yield s.read_call("explain", s.aging_us, task_id)
    ahead, pass_, vt, paused, inflight, cap, weight, in_rr = reply[:8]
    tenant, tenant_pass, _tenant_weight, fairness, charge, basis = reply[8:14]
    user_wake, tenant_wake, cap_mode = reply[14:17]
    ahead = int(ahead)
    minute_now = yield _c("TIME")
    _, minute = server_now(minute_now)
    _, served_total, total_weight = yield from _share_context(s, minute)
    w = float(weight)
    blocked = []
    if int(paused):
        blocked.append("user is paused")
    if int(cap) and int(inflight) >= int(cap):
        if cap_mode == "soft":
            blocked.append(
                f"user at its soft cap ({inflight}/{cap} in flight): served only when no "
                "other user has ready work"
            )
        else:
            blocked.append(f"user at its cap ({inflight}/{cap} in flight)")
    if user_wake:
        blocked.append(f"user's rate limit: next token at {_ts(int(user_wake))}")
    if tenant_wake:
        blocked.append(f"tenant {tenant}'s rate limit: next token at {_ts(int(tenant_wake))}")
    dispatches = None
    eta = None
    if ahead >= 0:
        # Stride scheduling gives the user weight / total weight of the dispatches.
        share = w / total_weight if total_weight else 1.0
        dispatches = max(round((ahead + 1) / share) - 1, ahead)
        rate = served_total / (SHARE_WINDOW * 60)
        eta = round(dispatches / rate, 1) if rate > 0 and not blocked else None
    summary = (
        f"ready; {ahead} of {info.user_id}'s tasks run before it; about {dispatches} "
        f"dispatch{'' if dispatches == 1 else 'es'} "
        f"across users before it starts"
        if ahead >= 0
        else "ready, but not found in its user's queue (corrupt index?)"
    )
    if not int(in_rr) and not blocked:
        blocked.append("user is not in the round-robin yet (no worker pop since it became ready)")
    return Explanation(
        **base,
        summary=summary + ("" if not blocked else "; blocked: " + ", ".join(blocked)),
        ahead_in_user=ahead if ahead >= 0 else None,
        dispatches_ahead=dispatches,
        estimated_start_seconds=eta,
        user_pass=float(pass_) if pass_ else None,
        virtual_time=float(vt) if vt else None,
        tenant=tenant or None,
        tenant_pass=float(tenant_pass) if tenant_pass else None,
        fairness=fairness or "count",
        charge=float(charge) if charge else None,
        charge_basis=basis or None,
        blocked_by=blocked,
    )


def _error_key(error: str | None) -> str:
    first = (error or "").strip().splitlines()[0] if error and error.strip() else "(no error)"
    return first[:120]


def dlq_groups(s: QueueSession, by: str = "error", scan: int = 10_000) -> Op[DLQGroups]:
    """DLQ entries grouped by error (first line) or user, over the ``scan`` newest."""
    k = s.keys
    total = yield _c("ZCARD", k.key("dlq"))
    ids = yield _c("ZREVRANGE", k.key("dlq"), 0, scan - 1)
    fields = yield [_c("HMGET", k.task(i), "user", "error") for i in ids] if ids else []
    groups: dict[str, list[str]] = {}
    for task_id, (user, error) in zip(ids, fields, strict=True):
        key = (user or "?") if by == "user" else _error_key(error)
        groups.setdefault(key, []).append(task_id)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return DLQGroups(
        by=by,
        groups=[DLQGroup(key=key, count=len(v), sample_task_ids=v[:5]) for key, v in ordered],
        scanned=len(ids),
        total=_i(total),
    )


def workers(s: QueueSession, stale_after: float) -> Op[list[WorkerInfo]]:
    """Registered workers; ``stale`` when silent for ``stale_after`` seconds or expired."""
    k = s.keys
    entries, now_reply = yield [_c("ZRANGE", k.key("workers"), 0, -1, "WITHSCORES"), _c("TIME")]
    now, _ = server_now(now_reply)
    if not entries:
        return []
    hashes = yield [_c("HGETALL", k.key("worker", worker_id=w)) for w, _ in entries]
    out = []
    for (wid, score), h in zip(entries, hashes, strict=True):
        last = _ts(h.get("last_beat") or int(score))
        stale = not h or last is None or (now - last).total_seconds() > stale_after
        out.append(
            WorkerInfo(
                worker_id=wid,
                host=h.get("host"),
                pid=_i(h.get("pid")) or None,
                kind=h.get("kind"),
                status=h.get("status"),
                concurrency=_i(h.get("concurrency")) or None,
                started_at=_ts(h.get("first_beat")),
                last_beat=last,
                inflight=_i(h.get("inflight")),
                processed=_i(h.get("processed")),
                failed=_i(h.get("failed")),
                stolen=_i(h.get("stolen")),
                stale=stale,
            )
        )
    return out
