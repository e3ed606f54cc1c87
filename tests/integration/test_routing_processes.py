"""Real processes, no shared file: a producer with its own create_default config, workers
started with --assigned a, --assigned b and --steal '*', in varying orders, one SIGKILLed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter

import pytest

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.monitoring import Inspector
from tests.support.ledger import read_ledger
from tests.support.processes import ROOT, WorkerProcesses
from tests.support.waiting import wait_for

PRODUCER = """
import sys, time
from fairque import FairQueueConfig, Task, TaskQueue
url, queue, rounds, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
config = FairQueueConfig.create_default("worker-1", assigned_users=["a"], steal_targets="*",
                                        redis_url=url, queue_name=queue)
for r in range(rounds):  # reopen the queue every round, as a web app's requests would
    with TaskQueue(config) as q:
        for u in ("a", "b", "c"):
            q.push(Task.create(u, 3, {"sleep": 0.005}, task_id=f"{u}-{tag}{r}"))
    time.sleep(0.03)  # a trickle: the assigned workers are never saturated
"""

ROUNDS = 40


def produce(url: str, queue: str, tag: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", PRODUCER, url, queue, str(ROUNDS), tag]
    return subprocess.Popen(cmd, env=env)


def routes(config: FairQueueConfig) -> dict[str, list[str] | str]:
    with Inspector(config) as ins:
        return {r.worker_id: r.assigned_users or r.steal_targets for r in ins.config_state().routes}


ORDERS = {
    "producer-first": ["wa", "wb", "ws"],
    "stealer-first": ["ws", "wa", "wb"],
    "restarted": ["wb", "ws", "wa"],  # then wa is stopped and started again
}


@pytest.mark.parametrize("order", list(ORDERS))
def test_every_user_is_served_and_each_worker_serves_its_own_first(
    server_url, queue_name, tmp_path, order
):
    config = FairQueueConfig(redis={"url": server_url}, queue={"name": queue_name})
    workers = WorkerProcesses(
        server_url, queue_name, tmp_path, settings={"QUEUE__VISIBILITY_TIMEOUT": "2"}
    )
    starts = {
        "wa": ("--assigned", "a"),
        "wb": ("--assigned", "b"),
        "ws": ("--steal", "*"),
    }
    producer = None
    wanted: set[str] = set()
    try:
        if order == "producer-first":  # a backlog nobody serves yet
            assert produce(server_url, queue_name, "early").wait(120) == 0
            wanted |= {f"{u}-early{r}" for u in "abc" for r in range(ROUNDS)}
        procs = {}
        for name in ORDERS[order]:
            procs[name] = workers.start(name, "--concurrency", "4", *starts[name])
        wait_for(lambda: set(routes(config)) == {"wa", "wb", "ws"}, timeout=60)
        if order == "restarted":
            procs["wa"].terminate()  # a graceful stop leaves the routing at once
            procs["wa"].wait(20)
            assert set(routes(config)) == {"wb", "ws"}
            procs["wa"] = workers.start("wa", "--concurrency", "4", *starts["wa"])
            wait_for(lambda: set(routes(config)) == {"wa", "wb", "ws"}, timeout=60)
        wait_for(lambda: wanted <= set(workers.events("done")), timeout=60)  # the backlog too
        producer = produce(server_url, queue_name, "live")
        assert producer.wait(120) == 0
        live = {f"{u}-live{r}" for u in "abc" for r in range(ROUNDS)}
        wait_for(lambda: live <= set(workers.events("done")), timeout=60)
        by_pid = {p.pid: name for name, p in procs.items()}
        ran = Counter(
            (t.task_id[0], by_pid.get(t.pid, "old"))
            for t in read_ledger(workers.ledger)
            if t.event == "done" and t.task_id in live
        )
        assert ran[("a", "wa")] >= 0.9 * ROUNDS, ran
        assert ran[("b", "wb")] >= 0.9 * ROUNDS, ran
        assert ran[("c", "wa")] == ran[("c", "wb")] == 0  # c is nobody's: only '*' serves it
        # The producer reopened its queue 40 times and claimed nothing.
        assert routes(config) == {"wa": ["a"], "wb": ["b"], "ws": "*"}
    finally:
        if producer is not None and producer.poll() is None:
            producer.kill()
        workers.stop_all()


def test_a_killed_workers_users_go_to_the_stealer_once_it_is_stale(
    server_url, queue_name, tmp_path
):
    config = FairQueueConfig(redis={"url": server_url}, queue={"name": queue_name})
    workers = WorkerProcesses(
        server_url, queue_name, tmp_path, settings={"QUEUE__VISIBILITY_TIMEOUT": "2"}
    )
    try:
        wa = workers.start("wa", "--assigned", "a")
        workers.start("ws", "--steal", "*")
        wait_for(lambda: set(routes(config)) == {"wa", "ws"}, timeout=60)
        wa.kill()
        wa.wait(5)
        killed_at = time.monotonic()
        # Heartbeat 0.5 s: the registration lives 3 s without a beat, then the stealer's
        # beats expire it.
        wait_for(lambda: set(routes(config)) == {"ws"}, timeout=30)
        assert time.monotonic() - killed_at >= 2.0
        with TaskQueue(config) as q:
            q.push_batch([Task.create("a", 3, {}, task_id=f"a-{i}") for i in range(20)])
        wait_for(lambda: {f"a-{i}" for i in range(20)} <= set(workers.events("done")), timeout=30)
    finally:
        workers.stop_all()
