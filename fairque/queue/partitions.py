"""Partitioned queues: one queue split into ``queue.partitions`` hash slots ``{name#k}``.

Each partition is a complete fair queue with its own keys (so its scripts stay in one slot,
on one cluster node). A user lives in exactly one partition, chosen by a stable hash of its
id, so fairness among the users of a partition is exact and per-user order is kept; a worker
serves the partition whose ready users have the lowest pass (the fair pick: it reads every
partition's head pass and virtual time with its pops, and users enter a
partition at the most advanced virtual time, so passes compare across partitions and users
of different partitions are served alike; see README "Scale-out"), or with
``partition_pick = "sticky"`` takes up to QUANTUM pops from one partition, then the next.
What a caller sees (push, pop, acknowledgements, reads) is one queue: the operations here
route by user or fan out over every partition, in the same number of round trips (see
:func:`ops.gather`).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fairque.core.config import FairQueueConfig
from fairque.core.exceptions import InvalidDependency
from fairque.core.models import AckResult, DLQEntry, PushResult, QueueStats, Task, TaskInfo
from fairque.queue import ops, reads
from fairque.queue.ops import Failure, Op, QueueSession, gather
from fairque.queue.session import CommandCall

QUANTUM = 64  # the sticky pick: pops a popper takes from one partition before moving on
FAIR_PICK_MAX = 64  # the fair pick reads every consumed partition: up to this many
# The fair pick learns the head of the partition it pops from with every pop (the script
# reports it) and reads every consumed partition once per REFRESH pops.
REFRESH = 8


@dataclass(frozen=True)
class PartitionView:
    """What a popper last read of a partition, in the same round trip as its last pop."""

    head: float | None  # the lowest pass among its ready users (None: nothing ready)
    vt: float  # its virtual time (the pass of its last dispatch)


def read_view(s: QueueSession) -> Op[PartitionView]:
    head, vt = yield [
        CommandCall(("ZRANGE", s.keys.key("readyidx"), 0, 0, "WITHSCORES")),
        CommandCall(("HGET", s.keys.meta, "vt")),
    ]
    return PartitionView(float(head[0][1]) if head else None, float(vt or 0))


def partition_of(user_id: str, partitions: int) -> int:
    """The partition of a user: CRC32 of its id (stable across processes and languages)."""
    return zlib.crc32(user_id.encode("utf-8")) % partitions


class Partitions:
    """The sessions of every partition of a queue, and the rotation a popper follows."""

    def __init__(self, config: FairQueueConfig, worker_id: str | None = None) -> None:
        count = config.queue.partitions
        self.count = count
        self.sessions = [
            QueueSession(config, worker_id, partition=k if count > 1 else None)
            for k in range(count)
        ]
        me = self.sessions[0].worker_id
        wanted = None
        if me is not None and config.workers:
            wanted = next((w.partitions for w in config.workers if w.id == me), None)
        self.consumed = [self.sessions[k] for k in (wanted or range(count))]
        self._current = 0  # the partition pops start from
        self._streak = 0  # pops served by it in a row
        # The fair pick (see pick_fair): the lowest head pass among the consumed partitions.
        self.fair = (
            config.queue.partition_pick == "fair" and 1 < len(self.consumed) <= FAIR_PICK_MAX
        )
        self.views: dict[int, PartitionView] = {}
        self.vt_floor = 0.0  # the global virtual time, as far as this popper has seen
        self._rounds = 0
        if self.fair:
            for s in self.consumed:
                s.vt_floor = 0.0  # ask each pop to report its partition's head

    @property
    def home(self) -> QueueSession:
        """Partition 0: where queue-wide things live (schedules, the leader lock, audit)."""
        return self.sessions[0]

    def of_user(self, user_id: str) -> QueueSession:
        return self.sessions[partition_of(user_id, self.count)] if self.count > 1 else self.home

    def rotation(self) -> list[QueueSession]:
        """The consumed partitions in the order a pop tries them. Fair pick: by the lowest
        head pass last read (partitions with nothing ready last). Sticky: the current one
        first, then the others in turn."""
        if len(self.consumed) == 1:
            return self.consumed
        start = self._current
        turn = self.consumed[start:] + self.consumed[:start]
        if not self.fair or not self.views:
            return turn

        def key(s: QueueSession) -> tuple[bool, float]:
            v = self.views.get(s.partition or 0)
            return (v is None or v.head is None, v.head if v and v.head is not None else 0.0)

        return sorted(turn, key=key)  # stable: ties keep the turn order

    def reads(self) -> list[Op[PartitionView]]:
        """The views to read along with this pop: every consumed partition's, once per
        REFRESH pops (fair pick only; in between, each pop reports its own partition's)."""
        if not self.fair:
            return []
        self._rounds += 1
        return [read_view(s) for s in self.consumed] if self._rounds % REFRESH == 1 else []

    def seen(self, views: Sequence[PartitionView]) -> None:
        """Views read along with a pop (every consumed partition's, in order)."""
        if views:
            self.views = {(s.partition or 0): v for s, v in zip(self.consumed, views, strict=True)}
            self._refloor()

    def popped(self, session: QueueSession) -> None:
        """A pop on ``session`` returned: note the head it reported (fair pick), and count it
        for the sticky rotation."""
        if self.fair and session.view is not None:
            head, vt = session.view
            session.view = None
            self.views[session.partition or 0] = PartitionView(head, vt)
            self._refloor()

    def _refloor(self) -> None:
        """The global virtual time is the lowest head pass among the partitions with work
        (no backlogged user anywhere is below it), kept monotone: a user whose pass is below
        it entered a partition that lagged (it was idle), and is charged from it rather than
        catching up in a burst."""
        heads = [v.head for v in self.views.values() if v.head is not None]
        if heads and min(heads) > self.vt_floor:
            self.vt_floor = min(heads)
            for s in self.consumed:
                s.vt_floor = self.vt_floor

    def served(self, session: QueueSession) -> None:
        """A pop got tasks from ``session``. Sticky pick: stay on it (its acknowledgements and
        the next pop then share one node and one round trip) for up to QUANTUM pops, then
        move on, so that every partition is served in turn while all have work."""
        if len(self.consumed) == 1:
            return
        k = self.consumed.index(session)
        if k != self._current:
            self._current, self._streak = k, 0
        self._streak += 1
        if self._streak >= QUANTUM:
            self._current, self._streak = (k + 1) % len(self.consumed), 0

    def by_user(self, items: Iterable[Any], user_of: Any) -> dict[int, list[Any]]:
        """Items grouped by the index of their user's partition, in order."""
        groups: dict[int, list[Any]] = {}
        for item in items:
            k = partition_of(user_of(item), self.count) if self.count > 1 else 0
            groups.setdefault(k, []).append(item)
        return groups


# -- the queue's operations over every partition ----------------------------------------------


def push(p: Partitions, tasks: Sequence[Task]) -> Op[list[PushResult]]:
    if p.count == 1:
        return (yield from ops.push(p.home, tasks))
    for t in tasks:  # a bad item fails before anything is sent, as with one partition
        if not isinstance(t, Task):
            raise TypeError(f"push takes Task objects (Task.create), not {type(t).__name__}")
    indexed = list(enumerate(tasks))
    groups = p.by_user(indexed, lambda it: it[1].user_id)
    if any(t.after for t in tasks):
        yield from check_parents_partitions(p, tasks)
    order = list(groups)
    replies = yield from gather([ops.push(p.sessions[k], [t for _, t in groups[k]]) for k in order])
    results: list[PushResult | None] = [None] * len(tasks)
    for k, part in zip(order, replies, strict=True):
        for (i, _), r in zip(groups[k], part, strict=True):
            results[i] = r
    return [r for r in results if r is not None]


def check_parents_partitions(p: Partitions, tasks: Sequence[Task]) -> Op[None]:
    """On a partitioned queue a task and its parents must live in one partition (the script
    that ends a parent releases its dependents in that partition's slot): each parent must be
    in this push, or pushed before it, in the partition of the task's user. Raises
    InvalidDependency naming the first parent that is not (nothing is written)."""
    home = {t.task_id: partition_of(t.user_id, p.count) for t in tasks}
    unknown = sorted({pid for t in tasks for pid in t.after if pid not in home})
    found: dict[str, int] = {}
    if unknown:
        hits = yield from gather([_exists(s, unknown) for s in p.sessions])
        for k, flags in enumerate(hits):
            found.update((pid, k) for pid, hit in zip(unknown, flags, strict=True) if hit)
    for t in tasks:
        want = home[t.task_id]
        for pid in t.after:
            where = home.get(pid, found.get(pid))
            if where is None:
                raise InvalidDependency(
                    f"task {t.task_id!r}: parent {pid!r} is not pushed yet; on a partitioned "
                    "queue a task's parents are pushed before it, or in the same call"
                )
            if where != want:
                raise InvalidDependency(
                    f"task {t.task_id!r}: parent {pid!r} lives in partition {where}, the task's "
                    f"user in partition {want}; on a partitioned queue a task waits only on "
                    "tasks of users of its own partition"
                )


def _exists(s: QueueSession, task_ids: list[str]) -> Op[list[bool]]:
    replies = yield [CommandCall(("EXISTS", s.keys.task(t))) for t in task_ids]
    return [bool(r) for r in replies]


def pop(p: Partitions, count: int) -> Op[list[Task]]:
    """Lease from the first partition of the rotation that has work (reading every
    partition's head along with the first try, for the fair pick)."""
    rotation = p.rotation()
    reads = p.reads()
    if reads:
        got: list[Any] = yield from gather([ops.pop(rotation[0], count), *reads])
        p.seen(got[1:])
        tasks: list[Task] = got[0]
    else:
        tasks = yield from ops.pop(rotation[0], count)
    p.popped(rotation[0])
    if tasks:
        p.served(rotation[0])
        return tasks
    for s in rotation[1:]:
        tasks = yield from ops.pop(s, count)
        p.popped(s)
        if tasks:
            p.served(s)
            return tasks
    return []


def _routed_acks(
    p: Partitions,
    items: Sequence[Any],
    user_of: Any,
    make: Any,
) -> Op[list[Any]]:
    """Acknowledgements of many partitions at once, results in the order of ``items``."""
    if p.count == 1:
        only: list[Any] = yield from make(p.home, list(items))
        return only
    indexed = list(enumerate(items))
    groups = p.by_user(indexed, lambda it: user_of(it[1]))
    order = list(groups)
    replies = yield from gather([make(p.sessions[k], [x for _, x in groups[k]]) for k in order])
    results: list[Any] = [None] * len(items)
    for k, part in zip(order, replies, strict=True):
        for (i, _), r in zip(groups[k], part, strict=True):
            results[i] = r
    return results


def complete(p: Partitions, items: Sequence[tuple[Task, Any]]) -> Op[list[AckResult]]:
    return (yield from _routed_acks(p, items, lambda it: it[0].user_id, ops.complete))


def fail(p: Partitions, failures: Sequence[Failure]) -> Op[list[AckResult]]:
    return (yield from _routed_acks(p, failures, lambda f: f.task.user_id, ops.fail))


def release(p: Partitions, tasks: Sequence[Task]) -> Op[list[AckResult]]:
    return (yield from _routed_acks(p, tasks, lambda t: t.user_id, ops.release))


def heartbeat(p: Partitions, tasks: Sequence[Task]) -> Op[dict[str, datetime | None]]:
    deadlines, _ = yield from beat_leases(p, tasks)
    return deadlines


def beat_leases(
    p: Partitions, tasks: Sequence[Task]
) -> Op[tuple[dict[str, datetime | None], set[str]]]:
    """Extend leases in their partitions: new deadlines, and the ids with a cancel asked."""
    if p.count == 1:
        return (yield from ops.beat_leases(p.home, tasks))
    groups = p.by_user(tasks, lambda t: t.user_id)
    replies = yield from gather([ops.beat_leases(p.sessions[k], g) for k, g in groups.items()])
    merged: dict[str, datetime | None] = {}
    canceled: set[str] = set()
    for deadlines, marked in replies:
        merged.update(deadlines)
        canceled |= marked
    return merged, canceled


def ack_and_pop(
    p: Partitions,
    completes: Sequence[tuple[Task, Any]],
    failures: Sequence[Failure],
    count: int,
    wait: ops.LongPoll | None = None,
) -> Op[tuple[list[Task], ops.Acks]]:
    """A worker's round trip: acknowledgements go to their partitions and the pop to the
    next partition of the rotation, all in one pipeline; if that partition is empty, the
    others are tried in turn. ``wait`` (a long poll, see ``ops.ack_and_pop``) applies to an
    unpartitioned queue only."""
    if p.count == 1:
        return (yield from ops.ack_and_pop(p.home, completes, failures, count, wait))
    rotation = p.rotation()
    first = rotation[0]
    c_groups = p.by_user(completes, lambda it: it[0].user_id)
    f_groups = p.by_user(failures, lambda f: f.task.user_id)
    first_k = first.partition or 0
    parts = [
        ops.ack_and_pop(
            p.sessions[k], c_groups.get(k, []), f_groups.get(k, []), count if k == first_k else 0
        )
        for k in sorted({*c_groups, *f_groups, first_k})
    ]
    reads = p.reads() if count > 0 else []
    everything: list[Any] = yield from gather([*parts, *reads])
    results = everything[: len(parts)]
    p.seen(everything[len(parts) :])
    tasks = [t for got, _ in results for t in got]
    acks = {task_id: r for _, part in results for task_id, r in part.items()}
    if count > 0:
        p.popped(first)
    if tasks:
        p.served(first)
    for s in rotation[1:]:
        if tasks or count <= 0:
            break
        tasks = yield from ops.pop(s, count)
        p.popped(s)
        if tasks:
            p.served(s)
    return tasks, acks


def requeue_dead(p: Partitions, task_ids: Sequence[str]) -> Op[int]:
    counts = yield from gather([ops.requeue_dead(s, task_ids) for s in p.sessions])
    return sum(counts)


def get_task(p: Partitions, task_id: str) -> Op[TaskInfo | None]:
    found = yield from gather([reads.get_task(s, task_id) for s in p.sessions])
    return next((t for t in found if t is not None), None)


def get_tasks(p: Partitions, task_ids: Sequence[str]) -> Op[list[TaskInfo | None]]:
    """Many tasks in one round trip (every partition asked; the one that has each answers)."""
    found = yield from gather([reads.get_tasks(s, task_ids) for s in p.sessions])
    return [next((part[i] for part in found if part[i] is not None), None)
            for i in range(len(task_ids))]  # fmt: skip


def parents(p: Partitions, task_id: str) -> Op[list[TaskInfo | None]]:
    """The tasks a task waits for (``after``), in its order: their states, results, errors
    (None for a parent not pushed yet, or expired)."""
    child = yield from get_task(p, task_id)
    if child is None or not child.parents:
        return []
    return (yield from get_tasks(p, child.parents))


def dlq_entries(p: Partitions, limit: int, offset: int) -> Op[list[DLQEntry]]:
    pages = yield from gather([reads.dlq_entries(s, limit + offset, 0) for s in p.sessions])
    if len(pages) == 1:
        return pages[0][offset : offset + limit]
    merged = sorted(
        (e for page in pages for e in page),
        key=lambda e: e.failed_at.timestamp() if e.failed_at else 0.0,
        reverse=True,
    )
    return merged[offset : offset + limit]


def stats(p: Partitions) -> Op[QueueStats]:
    parts = yield from gather([reads.stats(s) for s in p.sessions])
    return merge_stats(parts)


def merge_stats(parts: list[QueueStats]) -> QueueStats:
    if len(parts) == 1:
        return parts[0]
    counters: dict[str, int] = {}
    for st in parts:
        for key, value in st.counters.items():
            counters[key] = counters.get(key, 0) + value
    first = parts[0]
    return first.model_copy(
        update={
            "ready": sum(x.ready for x in parts),
            "delayed": sum(x.delayed for x in parts),
            "inflight": sum(x.inflight for x in parts),
            "dead": sum(x.dead for x in parts),
            "blocked": sum(x.blocked for x in parts),
            "active_users": sum(x.active_users for x in parts),
            "counters": counters,
            "users": sorted((u for x in parts for u in x.users), key=lambda u: -u.ready),
        }
    )


def register(p: Partitions) -> Op[list[ops.Registered]]:
    """Register in every partition the popper consumes (routing and settings offered)."""
    return (yield from gather([ops.register(s) for s in p.consumed]))
