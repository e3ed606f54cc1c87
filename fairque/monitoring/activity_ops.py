"""The Inspector's smaller reads as sans-IO operations: the audit log, the wait histogram,
per-user served and pushed counts of the last minutes (alert inputs), the server's clock,
and which keys have the wrong type (when a snapshot breaks on one)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fairque.monitoring import read_helpers as rh
from fairque.monitoring.models import AuditEntry
from fairque.queue.session import Call, CommandCall, Op, QueueSession


def audit(s: QueueSession, limit: int) -> Op[list[AuditEntry]]:
    """The newest ``limit`` audit entries, newest first."""
    rows = yield CommandCall(("XREVRANGE", s.keys.key("audit"), "+", "-", "COUNT", limit))
    return [
        AuditEntry(
            id=entry_id,
            at=rh._ts(entry_id.split("-")[0]) or rh.server_now(["0", "0"])[0],
            actor=fields.get("actor", "?"),
            action=fields.get("action", "?"),
            target=fields.get("target", ""),
            count=rh._i(fields.get("count")),
            detail=fields.get("detail", ""),
        )
        for entry_id, fields in rows
    ]


def wait_histogram(s: QueueSession) -> Op[dict[str, int]]:
    """Bucket upper bound in ms (or ``+Inf``) -> count, plus ``sum_ms``."""
    raw: dict[str, Any] = yield CommandCall(("HGETALL", s.keys.key("waith")))
    return {k: rh._i(v) for k, v in raw.items()}


def served(s: QueueSession, names: list[str], minutes: range) -> Op[dict[str, int]]:
    """Tasks started per user over ``minutes`` (minute numbers), for ``names``."""
    if not names:
        return {}
    replies = yield [CommandCall(("HMGET", s.keys.key("srv", minute=m), *names)) for m in minutes]
    total: dict[str, int] = {}
    for reply in replies:
        for user, v in zip(names, reply, strict=True):
            total[user] = total.get(user, 0) + rh._i(v)
    return total


def pushes(
    s: QueueSession, names: list[str], minutes: range
) -> Op[tuple[dict[str, int], int, int]]:
    """Tasks pushed over ``minutes`` by each of ``names`` (the noisy-neighbour rule's
    candidates), by everyone, and the most users that pushed in any one of those minutes:
    reads of the candidates and of counters, never every pusher (100,000 users pushing made
    the whole read 200 ms of the client's time)."""
    calls: list[Call] = []
    for m in minutes:
        calls += [
            CommandCall(("HGET", s.keys.key("tp", minute=m), "pushed")),
            CommandCall(("HLEN", s.keys.key("psh", minute=m))),
        ]
        if names:
            calls.append(CommandCall(("HMGET", s.keys.key("psh", minute=m), *names)))
    replies = yield calls
    step = 3 if names else 2
    total = pushers = 0
    by_user: dict[str, int] = {}
    for i in range(0, len(replies), step):
        total += rh._i(replies[i])
        pushers = max(pushers, rh._i(replies[i + 1]))
        if names:
            for user, v in zip(names, replies[i + 2], strict=True):
                if v:
                    by_user[user] = by_user.get(user, 0) + rh._i(v)
    return by_user, total, pushers


UNSERVED_SCAN = 1000  # users with the most ready work looked at by the unserved rule


def unserved(s: QueueSession) -> Op[dict[str, int]]:
    """Users with ready work that no live worker's scope covers (no worker at all, or none
    assigned them and none steals from their pool): user -> ready count. Paused users are
    held on purpose and left out. Processes that pop without a worker id register nothing
    and are not counted."""
    k = s.keys
    top, now, reg, scopes, paused = yield [
        CommandCall(("ZRANGE", k.key("ubacklog"), 0, UNSERVED_SCAN - 1, "REV", "WITHSCORES")),
        CommandCall(("TIME",)),
        CommandCall(("ZRANGE", k.key("reg"), 0, -1, "WITHSCORES")),
        CommandCall(("HGETALL", k.key("scope"))),
        CommandCall(("SMEMBERS", k.key("paused"))),
    ]
    if not top:
        return {}
    now_ms = int(now[0]) * 1000 + int(now[1]) // 1000
    live = {w for w, expires in reg if float(expires) > now_ms}
    pools: set[str] = set()
    for worker, raw in scopes.items():
        if worker not in live:
            continue
        _, home, steal = [*str(raw).split("|"), "", "", ""][:3]
        if steal == "*":
            return {}  # a live worker steals from every pool: everyone is served
        pools |= {p for p in (*home.split(","), *steal.split(",")) if p}
    users = [u for u, _ in top if u not in paused]
    if not users:
        return {}
    of_user = yield CommandCall(("HMGET", k.key("upool"), *users))
    ready = dict(top)
    pairs = zip(users, of_user, strict=True)
    return {u: int(ready[u]) for u, pool in pairs if (pool or "_") not in pools}


def server_time(s: QueueSession) -> Op[datetime]:
    reply = yield CommandCall(("TIME",), route=s.keys.meta)
    return rh.server_now(reply)[0]


def wrong_type_keys(s: QueueSession) -> Op[list[str]]:
    """The queue's keys whose type is not the one fairque writes (something wrote over them)."""
    k = s.keys
    expected = {
        k.key("stats"): "hash",
        k.key("backlog"): "hash",
        k.key("ubacklog"): "zset",
        k.key("inflight"): "zset",
        k.key("delayed"): "zset",
        k.key("dlq"): "zset",
        k.key("paused"): "set",
        k.key("workers"): "zset",
        k.key("readyidx"): "zset",
        k.key("routes"): "hash",
        k.key("settings"): "hash",
    }
    types = yield [CommandCall(("TYPE", key)) for key in expected]
    return [
        key
        for (key, want), got in zip(expected.items(), types, strict=True)
        if got not in (want, "none")
    ]


def summed(counts: list[dict[str, int]]) -> dict[str, int]:
    """Per-partition counts added up."""
    total: dict[str, int] = {}
    for part in counts:
        for key, n in part.items():
            total[key] = total.get(key, 0) + n
    return total
