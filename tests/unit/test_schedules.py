"""Schedules without a server: validation that names the field, fire times, DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fairque.core.cron import due_fire_times, next_runs
from fairque.scheduler import ScheduledTask


def make(**kw):
    return ScheduledTask(**{"name": "nightly", "cron": "0 3 * * *", "user_id": "u1", **kw})


def test_task_ids_derive_from_name_and_fire_time():
    st = make()
    t = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
    assert st.task_id(t) == st.task_id(t) == "sched.nightly.1767322800000"


def test_daily_run_keeps_local_time_across_the_dst_change():
    berlin = ZoneInfo("Europe/Berlin")
    runs = next_runs("0 9 * * *", "Europe/Berlin", datetime(2026, 3, 27, 10, 0, tzinfo=berlin), 3)
    assert [r.astimezone(UTC).hour for r in runs] == [8, 7, 7]  # UTC+1, then UTC+2 from Mar 29
    assert all(r.astimezone(berlin).hour == 9 for r in runs)
    autumn = next_runs("0 9 * * *", "Europe/Berlin", datetime(2026, 10, 24, 8, tzinfo=berlin), 2)
    assert [r.astimezone(UTC).hour for r in autumn] == [7, 8]  # back to UTC+1 on Oct 25


def test_a_time_skipped_by_spring_forward_runs_once_that_day():
    runs = next_runs("30 2 * * *", "Europe/Berlin", datetime(2026, 3, 28, 12, tzinfo=UTC), 2)
    assert [r.date().isoformat() for r in runs] == ["2026-03-29", "2026-03-30"]


def test_due_fire_times_keeps_the_newest_and_counts_the_rest():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    times, dropped = due_fire_times("* * * * * *", "UTC", start, end, 4)
    assert [t.second for t in times] == [7, 8, 9, 10] and dropped == 6
