"""The scheduler on the real server: storage, firing once, missed runs, leader failover."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from fairque import TaskQueue
from fairque.cli.main import cli
from fairque.core.exceptions import InvalidCronExpression, ScheduleNotFound
from fairque.scheduler import MissedRuns, ScheduledTask, TaskScheduler

ROOT = Path(__file__).resolve().parents[2]


def every_second(name="tick", **kw):
    return ScheduledTask(
        name=name, cron="* * * * * *", user_id="cron-user", payload={"n": name}, **kw
    )


def fired(q: TaskQueue, name: str = "tick") -> list[int]:
    """Fire times (ms) of every task the schedule enqueued, from the task ids."""
    tasks = []
    while batch := q.pop_many(500):
        tasks += batch
    return sorted(
        int(t.task_id.rsplit(".", 1)[1]) for t in tasks if t.task_id.startswith(f"sched.{name}.")
    )


@pytest.fixture
def sched(make_config):
    config = make_config()
    s = TaskScheduler(config)
    yield s
    s.queue.close()


def test_add_list_update_enable_remove(sched):
    assert sched.add(
        ScheduledTask(name="nightly", cron="0 3 * * *", user_id="u1", timezone="Europe/Berlin")
    )
    assert not sched.add(ScheduledTask(name="nightly", cron="0 4 * * *", user_id="u1"))  # kept
    assert sched.get("nightly").cron == "0 3 * * *"
    sched.update(
        ScheduledTask(name="nightly", cron="0 5 * * *", user_id="u1", timezone="Europe/Berlin")
    )
    (info,) = sched.schedules()
    assert info.schedule.cron == "0 5 * * *" and info.last_run is not None
    assert info.next_run.astimezone(info.next_run.tzinfo).hour == 5
    sched.set_enabled("nightly", False)
    assert sched.schedules()[0].next_run is None
    assert sched.remove("nightly") and sched.schedules() == []
    with pytest.raises(ScheduleNotFound):
        sched.set_enabled("nightly", True)


def test_each_fire_time_is_enqueued_once_even_by_two_schedulers(sched, make_config, raw):
    other = TaskScheduler(make_config())
    sched.add(every_second())
    time.sleep(2.2)
    last_key = sched.queue.session.keys.key("sched_last")
    stale = raw.hget(last_key, "tick")
    created_a = sched.tick()
    assert len(created_a) >= 2
    # A second scheduler that read the schedule's last run before the first one advanced it
    # (both believe they lead) computes the same fire times again.
    raw.hset(last_key, "tick", stale)
    created_b = other.tick()
    assert set(created_a).isdisjoint(created_b)
    ids = fired(sched.queue)
    assert len(ids) == len(set(ids)) == len(created_a) + len(created_b)
    assert sched.queue.stats().counters["pushed"] == len(ids)
    assert int(raw.hget(last_key, "tick")) >= max(ids)
    other.queue.close()


def test_missed_runs_skip_vs_catch_up(sched):
    sched.add(every_second("skipper", missed=MissedRuns.SKIP, misfire_grace_seconds=0.5))
    sched.add(every_second("catcher", missed=MissedRuns.CATCH_UP, catch_up_max=100))
    sched.tick()
    time.sleep(4.2)  # "down" for four fire times
    sched.tick()
    pops = []
    while batch := sched.queue.pop_many(500):
        pops += batch
    skipped = [t for t in pops if t.task_id.startswith("sched.skipper.")]
    caught = sorted(
        int(t.task_id.rsplit(".", 1)[1]) for t in pops if t.task_id.startswith("sched.catcher.")
    )
    assert len(skipped) <= 1  # only a fire time within the 0.5 s grace
    assert len(caught) >= 4 and all(b - a == 1000 for a, b in itertools.pairwise(caught))


def test_catch_up_is_bounded(sched):
    sched.add(every_second("bounded", missed=MissedRuns.CATCH_UP, catch_up_max=2))
    time.sleep(3.5)
    sched.tick()
    assert len(fired(sched.queue, "bounded")) == 2


def test_bad_cron_from_the_cli_is_one_line(server_url, queue_name):
    r = CliRunner().invoke(
        cli,
        [
            "--redis-url",
            server_url,
            "--queue",
            queue_name,
            "schedule",
            "add",
            "x",
            "0 0 30 2 *",
            "--user",
            "u",
        ],
    )
    assert r.exit_code == 1 and "never fires" in r.output and "Traceback" not in r.output
    with pytest.raises(InvalidCronExpression):
        ScheduledTask(name="x", cron="0 0 30 2 *", user_id="u")


def test_cli_add_ls_rm(server_url, queue_name):
    base = ["--redis-url", server_url, "--queue", queue_name]
    run = CliRunner().invoke
    r = run(
        cli,
        [
            *base,
            "schedule",
            "add",
            "report",
            "0 6 * * 1",
            "--user",
            "u1",
            "--payload",
            '{"k": 1}',
            "--tz",
            "Asia/Tokyo",
        ],
    )
    assert r.exit_code == 0, r.output
    r = run(cli, [*base, "--json", "schedule", "ls"])
    (doc,) = __import__("json").loads(r.output)
    assert doc["schedule"]["payload"] == {"k": 1} and doc["schedule"]["timezone"] == "Asia/Tokyo"
    assert run(cli, [*base, "schedule", "rm", "report"]).exit_code == 0
    r = run(cli, [*base, "schedule", "rm", "report"])
    assert r.exit_code == 1 and "no schedule named 'report'" in r.output


def test_schedules_declared_in_config_are_synced(make_config):
    decl = {"name": "from-config", "cron": "0 * * * *", "user_id": "u1"}
    config = make_config(scheduler={"schedules": [decl]})
    s = TaskScheduler(config)
    s.sync_from_config()
    s.add(ScheduledTask(name="by-hand", cron="0 * * * *", user_id="u1"))
    assert [i.schedule.name for i in s.schedules()] == ["by-hand", "from-config"]
    s.config = make_config()  # the declaration was deleted from the file
    s.sync_from_config()
    assert [i.schedule.name for i in s.schedules()] == ["by-hand"]
    s.queue.close()
