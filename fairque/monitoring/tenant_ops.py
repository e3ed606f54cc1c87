"""Tenants as sans-IO reads: each tenant's users, backlog, tasks in flight, weight, rate
limit, and its served share of the last minutes against its fair share.

Scheduling is fair between tenants first (a tenant and a user without one each take turns by
weight), then between a tenant's users. The fair share here is the same water-filling as the
users' (``monitoring.shares``), over those top-level entrants: a tenant's demand is what its
users were served in the window plus what they have queued now.

A partition's reads come back as :class:`TenantCounts`; ``merge_tenants`` adds the
partitions up and computes the shares, so a tenant whose users live in several partitions is
one row."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from fairque.core.rates import limit_in_force, next_token_ms, show_rate, tokens_left
from fairque.monitoring.models import RunningTask, TenantRow, UserRow
from fairque.monitoring.read_helpers import SHARE_WINDOW, _c, _i, _ts, server_now
from fairque.monitoring.shares import fair_level
from fairque.monitoring.user_ops import _parse_cfg, running_tasks, users
from fairque.queue.ops import Op, QueueSession
from fairque.queue.session import Call


@dataclass
class TenantCounts:
    """One partition's tenants, before shares: per tenant, and the tenant-less users that
    compete with them (demand and weight only)."""

    now_ms: int
    users: dict[str, int] = field(default_factory=dict)  # tenant -> its known users
    tenant_of: dict[str, str] = field(default_factory=dict)  # user -> tenant
    ready: dict[str, int] = field(default_factory=dict)
    active: dict[str, int] = field(default_factory=dict)  # users with ready work
    inflight: dict[str, int] = field(default_factory=dict)
    blocked: dict[str, int] = field(default_factory=dict)
    served: dict[str, int] = field(default_factory=dict)  # in the share window
    in_round_robin: set[str] = field(default_factory=set)
    settings: dict[str, tuple[float, str | None, str | None, str | None]] = field(
        default_factory=dict
    )  # tenant -> (weight, configured limit, override, token arrival time)
    solo_demand: dict[str, float] = field(default_factory=dict)  # tenant-less users
    solo_weight: dict[str, float] = field(default_factory=dict)
    served_total: int = 0


def _add_up(
    out: TenantCounts,
    tenant_of: dict[str, str],
    backlog: list[tuple[str, float]],
    held: dict[str, str] | None,
    blocked: dict[str, str] | None,
    served_by_minute: list[dict[str, str] | None],
) -> dict[str, float]:
    """Add each user's figures up into its tenant's (in ``out``); the demand of the users
    without a tenant (backlog + served), which compete with the tenants, is returned."""
    out.tenant_of = tenant_of
    out.users = dict(Counter(tenant_of.values()))
    solo: dict[str, float] = {}
    of = tenant_of.get
    ready: Counter[str] = Counter()
    active: Counter[str] = Counter()
    for user, score in backlog:  # users with ready work only (score > 0)
        tenant = of(user)
        if tenant is None:
            solo[user] = float(score)
        else:
            ready[tenant] += int(score)
            active[tenant] += 1
    out.ready, out.active = dict(ready), dict(active)
    for name, per_user in (("inflight", held), ("blocked", blocked)):
        counts: Counter[str] = Counter()
        for user, n in (per_user or {}).items():
            if (tenant := of(user)) is not None:
                counts[tenant] += _i(n)
        setattr(out, name, dict(counts))
    served: Counter[str] = Counter()
    for bucket in served_by_minute:
        for user, n in (bucket or {}).items():
            count = _i(n)
            out.served_total += count
            tenant = of(user)
            if tenant is None:
                solo[user] = solo.get(user, 0.0) + count
            else:
                served[tenant] += count
    out.served = dict(served)
    return solo


def tenant_counts(s: QueueSession) -> Op[TenantCounts]:
    """Read one partition's tenants: a fixed number of round trips (four), whatever the
    number of users (each read is one hash, set or sorted set, whole)."""
    k = s.keys
    now_reply = yield _c("TIME")
    now, minute = server_now(now_reply)
    minutes = range(minute - SHARE_WINDOW + 1, minute + 1)
    owner, backlog, held, blocked, in_turn, default_raw, *served_by_minute = yield [
        _c("HGETALL", k.key("utenant")),
        _c("ZRANGE", k.key("ubacklog"), 0, -1, "WITHSCORES"),
        _c("HGETALL", k.key("uinflight")),
        _c("HGETALL", k.key("blocked")),
        _c("SMEMBERS", k.key("tactive")),
        _c("HGET", k.key("settings"), "*"),
        *[_c("HGETALL", k.key("srv", minute=m)) for m in minutes],
    ]
    out = TenantCounts(now_ms=round(now.timestamp() * 1000))
    solo = _add_up(out, owner or {}, backlog, held, blocked, served_by_minute)
    out.in_round_robin = {str(entry).split("|", 1)[1] for entry in in_turn or [] if "|" in entry}
    names = sorted(set(out.users) | out.in_round_robin)
    default_weight = float(default_raw) if default_raw else s.queue.default_weight
    solo_names = sorted(solo)
    tenant_fields = [f"+{t}" for t in names]
    calls: list[Call] = [
        _c("HMGET", k.key("settings"), *tenant_fields, *[f"~{f}" for f in tenant_fields]),
        _c("HMGET", k.key("rlover"), *tenant_fields),
        _c("HMGET", k.key("rl"), *tenant_fields),
    ] if names else []  # fmt: skip
    if solo_names:
        calls.append(_c("HMGET", k.key("settings"), *solo_names))
    replies = (yield calls) if calls else []
    if names:
        cfg, overrides, tats = replies[0], replies[1], replies[2]
        weights, limits = cfg[: len(names)], cfg[len(names) :]
        for i, t in enumerate(names):
            weight = float(weights[i]) if weights[i] else 1.0
            out.settings[t] = (weight, limits[i], overrides[i], tats[i])
    if solo_names:
        for user, raw in zip(solo_names, replies[-1], strict=True):
            out.solo_weight[user] = _parse_cfg(raw, default_weight, out.now_ms)[0]
        out.solo_demand = solo
    return out


def merge_tenants(parts: list[TenantCounts]) -> list[TenantRow]:
    """One row per tenant over every partition, the most backlogged first."""
    if not parts:
        return []
    now_ms = max(p.now_ms for p in parts)
    users: dict[str, int] = {}
    totals: dict[str, dict[str, int]] = {}
    settings: dict[str, tuple[float, str | None, str | None, str | None]] = {}
    in_rr: set[str] = set()
    demand: dict[str, float] = {}
    weights: dict[str, float] = {}
    for p in parts:
        for t, n in p.users.items():
            users[t] = users.get(t, 0) + n
        for name in ("ready", "active", "inflight", "blocked", "served"):
            for t, n in getattr(p, name).items():
                row = totals.setdefault(t, {})
                row[name] = row.get(name, 0) + n
        settings.update(p.settings)
        in_rr |= p.in_round_robin
        for user, d in p.solo_demand.items():
            demand[user] = demand.get(user, 0.0) + d
            weights[user] = p.solo_weight.get(user, 1.0)
    served_total = sum(p.served_total for p in parts)
    tenants = sorted(set(users) | set(settings) | in_rr)
    for t in tenants:
        row = totals.get(t, {})
        demand["+" + t] = row.get("served", 0) + row.get("ready", 0)
        weights["+" + t] = settings.get(t, (1.0, None, None, None))[0]
    level = fair_level(demand, weights, served_total)
    rows = []
    for t in tenants:
        row = totals.get(t, {})
        weight, configured, override, tat = settings.get(t, (1.0, None, None, None))
        limit = limit_in_force(override, configured, now_ms)
        due = next_token_ms(limit, tat, now_ms) if limit else None
        served = row.get("served", 0)
        rows.append(
            TenantRow(
                tenant=t,
                weight=weight,
                users=users.get(t, 0),
                active_users=row.get("active", 0),
                ready=row.get("ready", 0),
                inflight=row.get("inflight", 0),
                blocked=row.get("blocked", 0),
                served_5m=served,
                served_share=round(served / served_total, 4) if served_total else 0.0,
                fair_share=round(level.share(demand["+" + t], weights["+" + t]), 4),
                in_round_robin=t in in_rr,
                rate=show_rate(limit[0]) if limit else None,
                burst=limit[1] if limit else None,
                tokens=tokens_left(limit, tat, now_ms) if limit else None,
                throttled_until=_ts(due) if due and row.get("ready", 0) else None,
            )
        )
    return sorted(rows, key=lambda r: (-r.ready, -r.inflight, r.tenant))


def members(counts: TenantCounts, tenant: str) -> list[str]:
    """The users of ``tenant`` in the partition ``counts`` was read from."""
    return sorted(u for u, t in counts.tenant_of.items() if t == tenant)


def tenant_users(
    s: QueueSession, names: list[str], limit: int
) -> Op[tuple[list[UserRow], list[RunningTask]]]:
    """Rows of the ``limit`` most backlogged of ``names`` (a tenant's users in this
    partition) and their tasks in flight."""
    if not names:
        return [], []
    scores = yield _c("ZMSCORE", s.keys.key("ubacklog"), *names)
    ranked = sorted(zip(names, scores, strict=True), key=lambda p: (-float(p[1] or 0), p[0]))
    page = yield from users(s, only=[name for name, _ in ranked[:limit]])
    held = {r.user_id for r in page.rows if r.inflight}
    now_reply = yield _c("TIME")
    now, _ = server_now(now_reply)
    running = (yield from running_tasks(s, now.timestamp() * 1e6, users=held)) if held else []
    return page.rows, running
