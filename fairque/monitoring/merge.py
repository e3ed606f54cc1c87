"""One snapshot of a partitioned queue from the snapshots of its partitions.

Totals, counters and per-minute throughput add up; users, DLQ groups and workers are united.
Served and fair shares stay those of each user's own partition (fairness is exact inside a
partition; partitions are served in turn), which the README's scale-out notes explain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fairque.monitoring.models import (
    ConfigState,
    DLQGroup,
    DLQGroups,
    Overview,
    ThroughputPoint,
    Totals,
    UserPage,
    UserRow,
    WorkerInfo,
)

_EVENTS = ("pushed", "popped", "completed", "failed", "retried", "dead")


def overviews(parts: list[Overview]) -> Overview:
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    totals = {field: sum(getattr(p.totals, field) for p in parts) for field in Totals.model_fields}
    # Every partition registers the workers that consume it: count each worker once.
    totals["workers"] = max(p.totals.workers for p in parts)
    counters: dict[str, int] = {}
    for p in parts:
        for key, value in p.counters.items():
            counters[key] = counters.get(key, 0) + value
    throughput = [
        ThroughputPoint(
            minute=points[0].minute, **{e: sum(getattr(x, e) for x in points) for e in _EVENTS}
        )
        for points in zip(*(p.throughput for p in parts), strict=True)
    ]
    quarantined: dict[str, str] = {}
    for p in parts:
        quarantined.update(p.quarantined)
    return first.model_copy(
        update={
            "totals": Totals(**totals),
            "counters": counters,
            "throughput": throughput,
            "corrupt_records": sum(p.corrupt_records for p in parts),
            "corrupt_last_hour": sum(p.corrupt_last_hour for p in parts),
            "quarantined": dict(sorted(quarantined.items())),
        }
    )


def user_order(sort: str) -> Callable[[UserRow], Any]:
    """The one definition of each order of the users table: ``backlog`` (most ready tasks
    first; CRITICAL ones are part of ``ready``), ``wait`` (longest p95 wait first) or ``name``;
    ties by user id."""
    if sort == "name":
        return lambda r: r.user_id
    if sort == "wait":
        return lambda r: (-(r.p95_wait_ms or 0), r.user_id)
    return lambda r: (-r.ready, r.user_id)


def user_pages(parts: list[UserPage], offset: int, limit: int, sort: str) -> UserPage:
    """Each partition was asked for its first ``offset + limit`` rows; keep the page."""
    if len(parts) == 1:
        return parts[0]
    rows = sorted((r for p in parts for r in p.rows), key=user_order(sort))
    return UserPage(
        rows=rows[offset : offset + limit],
        total_users=sum(p.total_users for p in parts),
        offset=offset,
    )


def dlq_groups(parts: list[DLQGroups]) -> DLQGroups:
    if len(parts) == 1:
        return parts[0]
    merged: dict[str, DLQGroup] = {}
    for p in parts:
        for g in p.groups:
            seen = merged.get(g.key)
            if seen is None:
                merged[g.key] = g
            else:
                samples = (seen.sample_task_ids + g.sample_task_ids)[: len(seen.sample_task_ids)]
                merged[g.key] = DLQGroup(
                    key=g.key,
                    count=seen.count + g.count,
                    sample_task_ids=samples or g.sample_task_ids,
                )
    return DLQGroups(
        by=parts[0].by,
        groups=sorted(merged.values(), key=lambda g: (-g.count, g.key)),
        scanned=sum(p.scanned for p in parts),
        total=sum(p.total for p in parts),
    )


def workers(parts: list[list[WorkerInfo]]) -> list[WorkerInfo]:
    """A worker beats in every partition it consumes: keep its latest entry."""
    if len(parts) == 1:
        return parts[0]
    latest: dict[str, WorkerInfo] = {}
    for part in parts:
        for w in part:
            seen = latest.get(w.worker_id)
            if seen is None or _beat(w) > _beat(seen):
                latest[w.worker_id] = w
    return sorted(latest.values(), key=lambda w: w.worker_id)


def _beat(w: WorkerInfo) -> float:
    moment = w.last_beat or w.started_at
    return moment.timestamp() if moment else 0.0


def config_states(parts: list[ConfigState]) -> ConfigState:
    """Settings as partition 0 holds them; a worker's registration and conflict once."""
    if len(parts) == 1:
        return parts[0]
    routes = {r.worker_id: r for p in parts for r in p.routes}
    conflicts = {c.worker_id: c for p in parts for c in p.conflicts}
    return parts[0].model_copy(
        update={
            "routes": [routes[w] for w in sorted(routes)],
            "conflicts": [conflicts[w] for w in sorted(conflicts)],
        }
    )
