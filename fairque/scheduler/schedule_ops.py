"""Reading schedules as a sans-IO operation (the Inspector, sync or asyncio, and the
scheduler share it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import BaseModel

from fairque.core.cron import next_runs
from fairque.core.schedule import ScheduledTask
from fairque.queue.session import CommandCall, Op, QueueSession

SOURCE_API = "api"
SOURCE_CONFIG = "config"


class ScheduleInfo(BaseModel):
    """A schedule with its last and next run."""

    schedule: ScheduledTask
    source: str
    last_run: datetime | None
    next_run: datetime | None


def from_ms(ms: int | str) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def load_schedule(raw: str) -> tuple[ScheduledTask, str]:
    """A stored schedule and where it came from (``api`` or ``config``)."""
    doc = json.loads(raw)
    return ScheduledTask(**doc["schedule"]), str(doc.get("source", SOURCE_API))


def schedules(s: QueueSession) -> Op[list[ScheduleInfo]]:
    """Every schedule with its last run and its next one on the server's clock (one round
    trip)."""
    defs, lasts, (sec, usec) = yield [
        CommandCall(("HGETALL", s.keys.key("sched_defs"))),
        CommandCall(("HGETALL", s.keys.key("sched_last"))),
        CommandCall(("TIME",), route=s.keys.meta),
    ]
    now = datetime.fromtimestamp(int(sec) + int(usec) / 1e6, UTC)
    out = []
    for name in sorted(defs):
        st, source = load_schedule(defs[name])
        last = lasts.get(name)
        nxt = next_runs(st.cron, st.timezone, now, 1)[0] if st.enabled else None
        out.append(
            ScheduleInfo(
                schedule=st,
                source=source,
                last_run=from_ms(last) if last else None,
                next_run=nxt,
            )
        )
    return out
