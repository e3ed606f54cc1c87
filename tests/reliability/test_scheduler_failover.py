"""R5: three scheduler processes, the leader SIGKILLed three times: every fire time of a
schedule firing each second is enqueued exactly once (none missed, none twice)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fairque import TaskQueue
from fairque.scheduler import MissedRuns, ScheduledTask, TaskScheduler
from tests.support.ledger import report, tally

ROOT = Path(__file__).resolve().parents[2]


def fired(q: TaskQueue, name: str) -> list[int]:
    """Fire times (ms) of every task the schedule enqueued, read back from the task ids."""
    tasks = []
    while batch := q.pop_many(500):
        tasks += batch
    return sorted(
        int(t.task_id.rsplit(".", 1)[1]) for t in tasks if t.task_id.startswith(f"sched.{name}.")
    )


def test_three_schedulers_with_the_leader_killed_enqueue_every_fire_time_once(
    server_url, queue_name, make_config, tmp_path
):
    s = TaskScheduler(make_config())
    s.add(
        ScheduledTask(
            name="failover",
            cron="* * * * * *",
            user_id="cron-user",
            payload={},
            missed=MissedRuns.CATCH_UP,
            catch_up_max=100,
        )
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FAIRQUE_SCHEDULER__LOCK_TTL_SECONDS": "1.0",
        "FAIRQUE_SCHEDULER__TICK_SECONDS": "0.2",
    }
    cmd = [
        sys.executable,
        "-m",
        "fairque.cli",
        "--redis-url",
        server_url,
        "--queue",
        queue_name,
        "scheduler",
        "run",
    ]
    procs = {}

    def spawn() -> None:
        log = open(tmp_path / f"s{len(procs)}.log", "wb")  # noqa: SIM115
        p = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        procs[p.pid] = p

    for _ in range(3):
        spawn()
    lock_key = s.queue.session.keys.key("sched_lock")
    start = time.time()
    kills = 0
    try:
        while kills < 3:
            time.sleep(1.5)
            token = s.queue.client.get(lock_key)
            if token is None:
                continue
            pid = int(token.split(":")[1])
            procs[pid].kill()  # SIGKILL: the lock is not released, it must expire
            procs[pid].wait(5)
            kills += 1
            spawn()
        time.sleep(2.5)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            p.wait(10)
    end = time.time()
    times = fired(s.queue, "failover")
    expected = range(times[0], times[-1] + 1, 1000) if times else range(0)
    t = tally([str(x) for x in times], [str(x) for x in expected])
    report("R5 3 schedulers, leader SIGKILLed x3", t, f"fire times {len(times)}")
    assert kills == 3
    assert len(times) == len(set(times))  # none twice
    assert all(b - a == 1000 for a, b in itertools.pairwise(times)), times  # none missed
    assert times[0] / 1000 <= start + 2.0 and times[-1] / 1000 >= end - 3.5
    assert s.queue.stats().counters["pushed"] == len(times)
    s.queue.close()
