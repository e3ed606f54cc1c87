"""The queue's live event tail as a sans-IO read: what the scripts reported (completed,
failed, dead, canceled, throttled, requeued) after a cursor, from the capped stream ``tail``
(one entry per script call; ``events.lua`` writes it)."""

from __future__ import annotations

from typing import Any

from fairque.monitoring import read_helpers as rh
from fairque.monitoring.models import TailEvent
from fairque.queue.session import CommandCall, Op, QueueSession

START = "0-0"  # a cursor before every entry


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return rh._i(ms), rh._i(seq)


def _parse(entry_id: str, packed: str) -> list[TailEvent]:
    at = rh._ts(entry_id.split("-", maxsplit=1)[0]) or rh.server_now(["0", "0"])[0]
    events = []
    for line in packed.split("\n"):
        parts = line.split("|", 4)
        if len(parts) != 5:
            continue  # not written by this version: skipped, not guessed at
        event, task_id, user, handler, detail = parts
        events.append(
            TailEvent(id=entry_id, at=at, event=event, task_id=task_id or None,
                      user_id=user, handler=handler or None, detail=detail)
        )  # fmt: skip
    return events


def _dropped_after(after: str, own: list[Any], info: Any) -> bool:
    """Whether the cap trimmed entries after the cursor before they were read. Trimming takes
    the oldest entries first, so while the cursor's own entry is kept nothing after it went.
    From the start (``START``), any trimming at all means entries went unread. Otherwise the
    cursor's entry gone with the oldest kept entry past it means the entries between went
    too (if there were any: the answer errs on the side of saying so)."""
    if not isinstance(info, dict) or own:
        return False  # no stream (nothing written yet), or the cursor is still there
    if after == START:
        return rh._i(info.get("entries-added")) > rh._i(info.get("length"))
    first: Any = info.get("first-entry")
    return bool(first) and _id_key(str(first[0])) > _id_key(after)


def tail(s: QueueSession, after: str | None, limit: int) -> Op[tuple[list[TailEvent], str, bool]]:
    """Events of up to ``limit`` entries after the entry ``after`` (None: the newest
    ``limit`` entries), oldest first, with the last entry read and whether entries after
    ``after`` were dropped before they were read (the stream is capped)."""
    key = s.keys.key("tail")
    if after is None:
        newest = yield CommandCall(("XREVRANGE", key, "+", "-", "COUNT", limit))
        rows = list(reversed(newest))
        missed = False
        after = START  # an empty stream: every later entry is new
    else:
        rows, own, info = yield [
            CommandCall(("XRANGE", key, "(" + after, "+", "COUNT", limit)),
            CommandCall(("XRANGE", key, after, after)),
            CommandCall(("XINFO", "STREAM", key), lenient=True),
        ]
        missed = _dropped_after(after, own, info)
    events = [e for entry_id, fields in rows for e in _parse(entry_id, fields.get("x", ""))]
    cursor = rows[-1][0] if rows else (after or START)
    if events:
        users = sorted({e.user_id for e in events if e.user_id})
        tenants = yield CommandCall(("HMGET", s.keys.key("utenant"), *users))
        by_user = {u: t for u, t in zip(users, tenants, strict=True) if t}
        events = [e.model_copy(update={"tenant": by_user.get(e.user_id)}) for e in events]
    return events, cursor, missed
