"""Waiting on a task without polling: its outcome (``TaskQueue.result``) and its events as
they happen (``TaskQueue.watch``). Sans-IO operations, like :mod:`fairque.queue.ops`.

A wait is armed and the task read in one script (watch.lua): from then on every change a
waiter cares about is appended to the task's event stream, which the waiter reads with a
blocking ``XREAD`` from the id that script returned. Nothing that happens after the read can
be missed, and the mark and the stream are data: a wait that loses its connection, or whose
server restarts (with its data), arms again and goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fairque.core.codec import decode_json
from fairque.core.exceptions import TaskCanceled, TaskFailed, TaskNotFound
from fairque.core.models import TaskEvent, TaskInfo, TaskState
from fairque.core.validation import check_task_id
from fairque.queue.partitions import Partitions
from fairque.queue.reads import task_info
from fairque.queue.session import CommandCall, Op, QueueSession, gather

_ENDED = {"completed", "dead", "canceled"}
EVENTS_PER_READ = 64


@dataclass
class Armed:
    """A wait armed on one task: where it lives, the last event read, the task as read."""

    session: QueueSession
    last: str
    info: TaskInfo


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


def arm(p: Partitions, task_id: str) -> Op[Armed]:
    """Arm a wait on the task and read it (every partition is asked: one holds it).

    Raises:
        TaskNotFound: no partition has the task.
    """
    task_id = check_task_id(task_id)
    replies = yield from gather([_arm_in(s, task_id) for s in p.sessions])
    for s, reply in zip(p.sessions, replies, strict=True):
        if reply is not None:
            last, fields = reply
            return Armed(s, last, task_info(task_id, fields))
    raise TaskNotFound(f"no task {task_id} (never pushed, or its result expired)")


def _arm_in(s: QueueSession, task_id: str) -> Op[tuple[str, dict[str, str]] | None]:
    return _watched((yield s.call("watch", task_id)))


def _watched(reply: Any) -> tuple[str, dict[str, str]] | None:
    """watch.lua's reply: the newest event's id and the task's fields (None: no task)."""
    if reply == "missing":
        return None
    return str(reply[0]), _pairs(reply[1])


def read_events(armed: Armed, block_s: float) -> Op[list[TaskEvent]]:
    """The task's events after the last one read, waiting up to ``block_s`` for the first."""
    task_id = armed.info.task_id
    reply = yield _read_call(armed, block_s)
    events: list[TaskEvent] = []
    for entry_id, fields in _entries(reply):
        armed.last = entry_id
        events.append(_event(task_id, fields))
    return events


def _read_call(armed: Armed, block_s: float) -> CommandCall:
    """The blocking read of the task's events after the last one read."""
    key = armed.session.keys.key("events", task_id=armed.info.task_id)
    block_ms = max(round(block_s * 1000), 1)
    return CommandCall(
        ("XREAD", "COUNT", EVENTS_PER_READ, "BLOCK", block_ms, "STREAMS", key, armed.last),
        blocking=True,
    )


def _entries(reply: Any) -> list[tuple[str, dict[str, str]]]:
    """XREAD's entries of one stream, whichever shape the client parsed them into (a list of
    [stream, entries] in RESP2, a dict in RESP3); none on a time-out."""
    if not reply:
        return []
    streams = list(reply.values()) if isinstance(reply, dict) else [s[1] for s in reply]
    out: list[tuple[str, dict[str, str]]] = []
    for entries in streams:
        for entry_id, fields in entries or []:
            flat = fields if isinstance(fields, dict) else _pairs(fields)
            out.append((str(entry_id), {str(k): str(v) for k, v in flat.items()}))
    return out


def _event(task_id: str, fields: dict[str, str]) -> TaskEvent:
    if "progress" in fields:
        note = fields.get("note") or ""
        return TaskEvent(
            task_id=task_id,
            kind="progress",
            progress=float(fields["progress"]) if fields["progress"] else None,
            note=decode_json(note) if note else None,
        )
    state = fields.get("state", "")
    kind = "ended" if state in _ENDED else state or "unknown"
    return TaskEvent(task_id=task_id, kind=kind, error=fields.get("error"))


def reread(armed: Armed) -> Op[None]:
    """Arm again and read the task afresh (after an end event, or a quiet stretch: it also
    re-arms a wait whose mark a server restart without its data lost)."""
    _rearmed(armed, (yield from _arm_in(armed.session, armed.info.task_id)))


def _rearmed(armed: Armed, watched: tuple[str, dict[str, str]] | None) -> None:
    """Take the task as watch.lua read it again (an event that came after the last one read
    is covered by it)."""
    if watched is None:
        raise TaskNotFound(f"no task {armed.info.task_id} (its result expired meanwhile?)")
    last, fields = watched
    if _newer(last, armed.last):
        armed.last = last
    armed.info = task_info(armed.info.task_id, fields)


def _newer(a: str, b: str) -> bool:
    def parts(x: str) -> tuple[int, int]:
        ms, _, seq = x.partition("-")
        return int(ms or 0), int(seq or 0)

    return parts(a) > parts(b)


def wait_op(armed: Armed, block_s: float) -> Op[bool]:
    """One blocking read of the task's events, and the task read afresh and the wait armed
    again right after it, in the same round trip (on a cluster, where a blocking call travels
    alone, in the next one). Returns whether the task has ended."""
    s = armed.session
    if s.config.redis.cluster:
        events = yield from read_events(armed, block_s)
        if not events or any(e.final for e in events):
            yield from reread(armed)
        return armed.info.ended
    read = _read_call(armed, block_s)
    reply, again = yield [read, s.call("watch", armed.info.task_id)]
    for entry_id, _ in _entries(reply):
        armed.last = entry_id
    _rearmed(armed, _watched(again))
    return armed.info.ended


def outcome(info: TaskInfo) -> Any:
    """The result of an ended task, or the exception its end means."""
    if info.state == TaskState.COMPLETED and not info.cancel_requested:
        return info.result
    if info.state == TaskState.CANCELED or info.cancel_requested:
        raise TaskCanceled(info.task_id, info.canceled_by or "")
    raise TaskFailed(
        info.task_id, info.error or "", info.error_type or "", info.traceback or "", info.attempts
    )
