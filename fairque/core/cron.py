"""Cron expressions and time zones: validation and fire times (croniter).

Five fields (minute hour day month weekday), or six with seconds as the sixth field
(croniter's convention): ``* * * * * */5`` fires every five seconds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fairque.core.exceptions import InvalidCronExpression, InvalidTimezone


def _croniter(expr: str, start: datetime) -> Any:
    # Imported on first use: every process loads the config (which checks schedules), few
    # have schedules, and croniter costs about 40 ms to import.
    from croniter import croniter

    return croniter(expr, start)


def check_timezone(name: object) -> ZoneInfo:
    """The zone called ``name``, or :class:`InvalidTimezone` naming the field."""
    if not isinstance(name, str) or not name:
        raise InvalidTimezone(
            f"timezone must be an IANA zone name such as 'Europe/Berlin', got {name!r}"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidTimezone(f"timezone {name!r} is not a known IANA time zone") from None


def check_cron(expr: object, timezone: str = "UTC") -> str:
    """``expr`` if it parses and fires at least once, else :class:`InvalidCronExpression`."""
    if not isinstance(expr, str) or not expr.strip():
        raise InvalidCronExpression(f"cron must be a cron expression string, got {expr!r}")
    fields = expr.split()
    if len(fields) not in (5, 6):
        raise InvalidCronExpression(
            f"cron {expr!r} has {len(fields)} fields; use 5 (minute hour day month weekday) "
            "or 6 (the sixth is seconds)"
        )
    zone = check_timezone(timezone)
    from croniter import CroniterBadCronError, CroniterBadDateError, CroniterError

    try:
        _croniter(expr, datetime.now(zone)).get_next(datetime)
    except CroniterBadDateError:
        raise InvalidCronExpression(f"cron {expr!r} never fires (an impossible date)") from None
    except (CroniterBadCronError, CroniterError, ValueError, KeyError) as exc:
        raise InvalidCronExpression(f"cron {expr!r} is invalid: {exc}") from None
    return expr


def due_fire_times(
    expr: str, timezone: str, after: datetime, until: datetime, limit: int
) -> tuple[list[datetime], int]:
    """Fire times in ``(after, until]`` (the ``limit`` newest, oldest first) and how many
    older ones were left out."""
    zone = ZoneInfo(timezone)
    it = _croniter(expr, after.astimezone(zone))
    times: list[datetime] = []
    dropped = 0
    while True:
        nxt: datetime = it.get_next(datetime)
        if nxt > until:
            break
        times.append(nxt)
        if len(times) > limit:
            times.pop(0)
            dropped += 1
    return times, dropped


def next_runs(expr: str, timezone: str, start: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times after ``start``, in the schedule's zone."""
    it = _croniter(expr, start.astimezone(ZoneInfo(timezone)))
    return [it.get_next(datetime) for _ in range(count)]


def latest_fire(expr: str, timezone: str, now: datetime) -> datetime:
    """The newest fire time at or before ``now``."""
    prev: datetime = _croniter(expr, now.astimezone(ZoneInfo(timezone))).get_prev(datetime)
    return prev
