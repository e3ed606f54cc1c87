"""The Inspector's queue-wide reads as sans-IO operations (the overview, the DLQ by group,
the workers): each yields a bounded number of pipelined steps (no scans of whole queues) and
returns a typed snapshot. The users table is in ``user_ops``, ``explain`` in
``explain_ops``."""

from __future__ import annotations

from datetime import UTC, datetime

from fairque.monitoring.models import (
    DLQGroup,
    DLQGroups,
    Overview,
    ServerInfo,
    ThroughputPoint,
    Totals,
    WorkerInfo,
)
from fairque.monitoring.read_helpers import MINUTES, _c, _i, _ts, server_now
from fairque.queue.ops import Op, QueueSession
from fairque.queue.reads import round_robin_calls, round_robin_reads, round_robin_users

_EVENTS = ("pushed", "popped", "completed", "failed", "retried", "dead")


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
        _c("HGET", k.key("blocked"), "*"),
        *sizes,
        *[_c("HGETALL", k.key("tp", minute=m)) for m in minutes],
    ]
    ready, delayed, inflight, dead, backlogged, paused, workers, counters, info, mem = replies[:10]
    quarantined, blocked = replies[10:12]
    rest = replies[12:]
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
            blocked=_i(blocked),
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
