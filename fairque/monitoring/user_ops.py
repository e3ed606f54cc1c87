"""The users table and one user's page as sans-IO reads: a row per user (backlog by priority,
in flight, waits, served and fair shares, tenant, limits) in a bounded number of pipelined
steps, however many users the queue has."""

from __future__ import annotations

import statistics
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fairque.core.rates import limit_in_force, next_token_ms, show_rate, tokens_left
from fairque.monitoring.models import PendingTask, RunningTask, UserDetail, UserPage, UserRow
from fairque.monitoring.read_helpers import (
    MINUTES,
    PRIORITIES,
    SHARE_WINDOW,
    _c,
    _i,
    _ts,
    server_now,
)
from fairque.monitoring.shares import FairLevel, fair_level
from fairque.queue.ops import CommandCall, Op, QueueSession
from fairque.queue.session import Call


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


ROWS_PER_CALL = 200  # users whose rows one read-only script call gathers (~1 ms of server)


def _row_reads(s: QueueSession, names: list[str], minute: int) -> list[Call]:
    """The reads behind the rows of ``names`` (``user_rows.lua``, read-only): per user, the
    replies ``_build_row`` takes, in its order."""
    first = minute - SHARE_WINDOW + 1
    return [
        s.read_call("user_rows", first, SHARE_WINDOW, *names[i : i + ROWS_PER_CALL])
        for i in range(0, len(names), ROWS_PER_CALL)
    ]


_HEAD_CALLS = 12  # the replies of a row before the priority heads


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
    ready, by_pri, held, paused, cfgs, waits, tenant, runtime, override, tat, wake, blocked = r[
        :_HEAD_CALLS
    ]
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
        blocked=_i(blocked),
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
    """Default weight, tasks dispatched in the share window, total weight of backlogged users.

    The total is the default weight times the number of backlogged users, corrected for the
    users with settings of their own that are backlogged: it reads the settings whole and
    those users' backlog, never every user's name."""
    k = s.keys
    settings, backlogged, *served = yield [
        _c("HGETALL", k.key("settings")),
        _c("ZCARD", k.key("ubacklog")),
        *[
            _c("HGET", k.key("tp", minute=m), "popped")
            for m in range(minute - SHARE_WINDOW + 1, minute + 1)
        ],
    ]
    settings = settings or {}
    default_raw = settings.get("*")
    default_weight = float(default_raw) if default_raw else s.queue.default_weight
    total_weight = default_weight * _i(backlogged)
    # Entries of users (not '#flags', '~limits', '%modes', '+tenants' or '*')
    own = [u for u in settings if u[0] not in "#~%+*"]
    if own and _i(backlogged):
        scores = yield _c("ZMSCORE", k.key("ubacklog"), *own)
        now_ms = minute * 60_000
        for user, score in zip(own, scores, strict=True):
            if score is not None:
                weight = _parse_cfg(settings[user], default_weight, now_ms)[0]
                total_weight += weight - default_weight
    return default_weight, sum(_i(x) for x in served), total_weight


@dataclass(frozen=True)
class WindowShares:
    """The share window's figures: tasks dispatched in it, and each user's fair share of them
    (``monitoring.shares``: demand = served in the window + queued now)."""

    default_weight: float
    capacity: int
    level: FairLevel
    demand: dict[str, float]
    weights: dict[str, float]  # users with settings of their own only
    at_ms: int  # the server's clock when read

    def fair_share(self, user: str) -> float:
        return self.level.share(
            self.demand.get(user, 0.0), self.weights.get(user, self.default_weight)
        )


def _window_shares(s: QueueSession, now_ms: int) -> Op[WindowShares]:
    """The share window's fair shares (see WindowShares). Reads each user's backlog, the
    window's served counts and the settings whole: O(users), tens of ms of the client's time
    at 100,000 users. A session whose ``shares_fresh_ms`` is set (the TUI's, through
    ``Inspector(shares_fresh=...)``) reuses its last answer that long: the users table and
    the alerts of one refresh read them once (a 5-minute window moves little in a second).
    By default every read is exact."""
    fresh_ms = getattr(s, "shares_fresh_ms", 0)
    memo = getattr(s, "window_shares", None)
    if fresh_ms and isinstance(memo, WindowShares) and 0 <= now_ms - memo.at_ms < fresh_ms:
        return memo
    k = s.keys
    minute = now_ms // 60_000
    minutes = range(minute - SHARE_WINDOW + 1, minute + 1)
    settings, backlog, *served_by_minute = yield [
        _c("HGETALL", k.key("settings")),
        _c("ZRANGE", k.key("ubacklog"), 0, -1, "WITHSCORES"),
        *[_c("HGETALL", k.key("srv", minute=m)) for m in minutes],
    ]
    settings = settings or {}
    default_raw = settings.get("*")
    default_weight = float(default_raw) if default_raw else s.queue.default_weight
    demand: dict[str, float] = dict(backlog)
    capacity = 0
    for bucket in served_by_minute:
        for user, n in (bucket or {}).items():
            served = _i(n)
            capacity += served
            demand[user] = demand.get(user, 0.0) + served
    # Users without an entry of their own have the default weight: only configured users
    # (and boosts) are looked at.
    weights = {
        u: _parse_cfg(settings[u], default_weight, now_ms)[0] for u in demand if u in settings
    }
    shares = WindowShares(
        default_weight=default_weight,
        capacity=capacity,
        level=fair_level(demand, weights, capacity, default_weight),
        demand=demand,
        weights=weights,
        at_ms=now_ms,
    )
    s.window_shares = shares  # type: ignore[attr-defined]
    return shares


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
    are paused, have tasks blocked on parents, or were served in the last few minutes (a live
    view wants to see users who are being served promptly, which is most of them when the
    queue is fair)."""
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
        inflight, paused, blocked, *served = yield [
            _c("HKEYS", k.key("uinflight")),
            _c("SMEMBERS", k.key("paused")),
            _c("HKEYS", k.key("blocked")),
            *[
                _c("HKEYS", k.key("srv", minute=m))
                for m in range(minute - SHARE_WINDOW + 1, minute + 1)
            ],
        ]
        seen = set(names)
        waiting = {u for u in blocked if u != "*"}  # users whose only tasks wait on parents
        idle = sorted(
            {*inflight, *paused, *waiting, *(u for bucket in served for u in bucket)} - seen
        )
        names = [*names, *idle[: limit - len(names)]]
        total = max(_i(total), len(names))
    shares = yield from _window_shares(s, now_ms)
    chunks = (yield _row_reads(s, names, minute)) if names else []
    replies = [row for chunk in chunks for row in chunk]
    rows = [
        _build_row(
            u,
            replies[i],
            now_us=round(now.timestamp() * 1e6),
            now_ms=now_ms,
            default_weight=shares.default_weight,
            served_total=shares.capacity,
            fair_share=shares.fair_share(u),
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
    running = (yield from running_tasks(s, now_us, user=user)) if row.inflight else []
    # Walk back from the current backlog: each minute's end = next minute's end - net flow.
    history = [row.ready]
    for m in range(MINUTES - 1, 0, -1):
        history.append(max(history[-1] - pushed[m] + served[m], 0))
    return UserDetail(
        row=row,
        pending=pending,
        running=running,
        pending_offset=offset,
        backlog_history=history[::-1],
        fairness=fairness or "count",
        tenant_weight=(float(tenant_weight) if tenant_weight else 1.0) if row.tenant else None,
    )


RUNNING_SCAN = 1000  # leases looked at for one user's running tasks (the earliest deadlines)


def running_tasks(
    s: QueueSession,
    now_us: float,
    *,
    user: str | None = None,
    worker_id: str | None = None,
    users: Collection[str] | None = None,
) -> Op[list[RunningTask]]:
    """Tasks in flight of ``user`` (or of any of ``users``), or held by ``worker_id`` (among
    the queue's first RUNNING_SCAN leases), the longest running first."""
    ids = yield _c("ZRANGE", s.keys.key("inflight"), 0, RUNNING_SCAN - 1)
    if not ids:
        return []
    rows = yield [
        _c("HMGET", s.keys.task(i), "user", "worker", "started", "prog", "cancel") for i in ids
    ]
    out = []
    for task_id, (owner, worker, started, prog, cancel) in zip(ids, rows, strict=True):
        if (
            (user is not None and owner != user)
            or (worker_id is not None and worker != worker_id)
            or (users is not None and owner not in users)
        ):
            continue
        ran = None if not started else max(round(now_us / 1e6 - int(started) / 1e3, 3), 0.0)
        out.append(
            RunningTask(
                task_id=task_id,
                user_id=owner,
                worker_id=worker,
                run_seconds=ran,
                progress=float(prog) if prog else None,
                cancel_requested=bool(cancel),
            )
        )
    return sorted(out, key=lambda r: -(r.run_seconds or 0))


def worker_tasks(s: QueueSession, worker_id: str) -> Op[list[RunningTask]]:
    """The tasks ``worker_id`` holds in this partition (run times on the server's clock)."""
    now_reply = yield _c("TIME")
    now, _ = server_now(now_reply)
    return (yield from running_tasks(s, now.timestamp() * 1e6, worker_id=worker_id))
