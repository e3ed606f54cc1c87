"""Acting on tasks by id: cancel them, whatever their state, and record how far running ones
are (sans-IO operations, like :mod:`fairque.queue.ops`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from fairque.core.codec import encode_json
from fairque.core.exceptions import ValidationError
from fairque.core.models import CancelOutcome, CancelResult, Task
from fairque.core.validation import check_task_id
from fairque.queue.partitions import Partitions
from fairque.queue.records import lease_of
from fairque.queue.session import Call, Op, QueueSession, gather
from fairque.scripts.protocol import Arg

# cancel.lua's answer -> what it means
_OUTCOMES = {"ready": CancelOutcome.CANCELED, "delayed": CancelOutcome.CANCELED,
             "leased": CancelOutcome.REQUESTED}  # fmt: skip
CANCEL_CHUNK = 500  # ids per script call: one call never holds the server long
# A progress note is for people and dashboards: it stays small.
MAX_NOTE_BYTES = 16 * 1024


def check_actor(who: str) -> str:
    """Who asks, as the audit log and the task name them (no '|': the field's separator)."""
    text = str(who).replace("|", "/").strip()
    if not text or len(text) > 200:
        raise ValidationError("who cancels must be named in 1-200 characters")
    return text


def _result(task_id: str, answer: str) -> CancelResult:
    if answer == "missing":
        return CancelResult(task_id=task_id, outcome=CancelOutcome.NOT_FOUND)
    if answer.startswith("="):
        return CancelResult(task_id=task_id, outcome=CancelOutcome.ENDED, state=answer[1:])
    return CancelResult(task_id=task_id, outcome=_OUTCOMES.get(answer, CancelOutcome.CANCELED),
                        state=answer)  # fmt: skip


def cancel_in(s: QueueSession, task_ids: Sequence[str], who: str, ttl_ms: int) -> Op[list[str]]:
    """Cancel ``task_ids`` in one partition: cancel.lua's answer for each."""
    answers: list[str] = []
    calls: list[Call] = [
        s.call("cancel", who, ttl_ms, len(chunk), *chunk)
        for chunk in (task_ids[i : i + CANCEL_CHUNK] for i in range(0, len(task_ids), CANCEL_CHUNK))
    ]
    if not calls:
        return answers
    replies = [(yield calls[0])] if len(calls) == 1 else (yield calls)
    for reply in replies:
        answers += [str(r) for r in reply]
    return answers


def cancel(p: Partitions, task_ids: Sequence[str], who: str, ttl_ms: int) -> Op[list[CancelResult]]:
    """Cancel tasks by id (validated first: a bad id changes nothing). A task's partition is
    not known from its id, so every partition is asked; the one that has it answers."""
    ids = [check_task_id(t) for t in task_ids]
    who = check_actor(who)
    per_part = yield from gather([cancel_in(s, ids, who, ttl_ms) for s in p.sessions])
    results = []
    for i, task_id in enumerate(ids):
        answers = [part[i] for part in per_part]
        found = next((a for a in answers if a != "missing"), "missing")
        results.append(_result(task_id, found))
    return results


def check_progress(fraction: float | None, note: dict[str, Any]) -> tuple[str, str]:
    """A progress report as stored: the fraction (0..1) and the note as JSON. Raises
    ValidationError (a typed error, in the handler) for a fraction out of range or a note
    that is not JSON or over 16 KiB."""
    text = ""
    if fraction is not None:
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise ValidationError(f"progress must be a number from 0 to 1, got {fraction!r}")
        if not math.isfinite(fraction) or not 0 <= fraction <= 1:
            raise ValidationError(f"progress must be a number from 0 to 1, got {fraction!r}")
        text = repr(float(fraction))
    note_json = encode_json(note, max_bytes=MAX_NOTE_BYTES, what="progress note") if note else ""
    return text, note_json


def progress_in(s: QueueSession, reports: Sequence[tuple[Task, str, str]]) -> Op[list[str]]:
    """Write the latest progress of running tasks (their leases' tokens checked)."""
    args: list[Arg] = []
    for task, fraction, note in reports:
        args += [task.task_id, lease_of(task).token, fraction, note]
    if not args:
        return []
    reply = yield s.call("progress", len(args) // 4, *args)
    return [str(r) for r in reply]


def progress(p: Partitions, reports: Sequence[tuple[Task, str, str]]) -> Op[list[str]]:
    """Progress reports of tasks of any partitions, in one round trip."""
    groups = p.by_user(list(reports), lambda r: r[0].user_id)
    if len(groups) <= 1:
        return (yield from progress_in(p.sessions[next(iter(groups), 0)], reports))
    order = list(groups)
    replies = yield from gather([progress_in(p.sessions[k], groups[k]) for k in order])
    return [a for part in replies for a in part]
