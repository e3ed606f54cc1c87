"""Fairness by run time (``queue.fairness = "time"``) and declared costs: a user is charged
for what its tasks cost, not one turn per task."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from fairque import Task, TaskQueue
from fairque.core.exceptions import InvalidCost
from fairque.monitoring import Inspector
from tests.support.harness import Harness
from tests.support.popping import pop_n
from tests.support.waiting import wait_for

SLOW, FAST = 0.015, 0.003  # seconds a task of each user holds its lease


def push(q, user, n, **kw):
    q.push_batch([Task.create(user, 3, {"i": i}, **kw) for i in range(n)])


def run_for(q, n, seconds_of):
    """Pop n tasks one at a time, each run for its user's time before it completes; returns
    the time each user ran (what fairness by time charges)."""
    held: Counter[str] = Counter()
    for _ in range(n):
        t = q.pop()
        assert t is not None
        started = time.monotonic()
        time.sleep(seconds_of[t.user_id])
        ran = time.monotonic() - started
        held[t.user_id] += ran
        t.note_run(ran)  # as a worker does: round trips on a loaded machine are not charged
        q.complete(t)
    return held


def test_by_time_users_get_equal_worker_time(make_queue, make_config):
    q = make_queue(make_config(queue={"fairness": "time"}))
    push(q, "slow", 200)
    push(q, "fast", 200)
    held = run_for(q, 120, {"slow": SLOW, "fast": FAST})
    share = held["slow"] / (held["slow"] + held["fast"])
    assert 0.35 <= share <= 0.65, held  # by count it would be 0.83


def test_by_count_the_slow_user_takes_most_of_the_time(make_queue):
    q = make_queue()
    push(q, "slow", 100)
    push(q, "fast", 100)
    held = run_for(q, 60, {"slow": SLOW, "fast": FAST})
    share = held["slow"] / (held["slow"] + held["fast"])
    assert share >= 0.7, held


def test_a_declared_cost_is_charged_instead_of_one_turn(make_queue):
    q = make_queue()
    push(q, "heavy", 100, cost=3)
    push(q, "light", 100)
    counts = Counter(t.user_id for t in pop_n(q, 80))
    assert counts == {"heavy": 20, "light": 60}, counts


def test_a_declared_cost_is_charged_instead_of_the_run_time(make_queue, make_config):
    q = make_queue(make_config(queue={"fairness": "time"}))
    push(q, "a", 100, cost=0.5)  # seconds' worth, however fast it really runs
    push(q, "b", 100, cost=0.1)
    counts = Counter(t.user_id for t in pop_n(q, 60))
    assert counts == {"a": 10, "b": 50}, counts


def test_a_released_task_is_not_charged(make_queue, make_config):
    """Release hands a task back unrun: the up-front estimate is refunded, so popping and
    releasing does not move the user's pass."""
    config = make_config(queue={"fairness": "time"})
    q = make_queue(config)
    push(q, "r", 20)
    run_for(q, 5, {"r": 0.005})  # r has a mean run time now: a pop charges it up front

    def pass_of_r() -> float:
        with Inspector(config) as ins:
            head = ins.user("r", 0, 1).pending[3][0].task_id
            ex = ins.explain(head)
        assert ex is not None and ex.user_pass is not None
        return ex.user_pass

    before = pass_of_r()
    for _ in range(5):
        t = q.pop()
        assert t is not None and t.user_id == "r"
        q.release([t])  # a shutting-down worker gives it back
    assert pass_of_r() == pytest.approx(before, abs=1e-9)
    # The control: a task that ran is charged.
    run_for(q, 1, {"r": 0.005})
    assert pass_of_r() > before


def test_inspector_shows_the_mean_run_time_and_explain_the_charge(make_queue, make_config):
    config = make_config(queue={"fairness": "time"})
    q = make_queue(config)
    push(q, "u", 10)
    run_for(q, 5, {"u": 0.01})
    waiting = Task.create("u", 3, "next")
    costly = Task.create("u", 3, "costly", cost=2.5)
    q.push_batch([waiting, costly])
    with Inspector(config) as ins:
        row = ins.user("u", 0, 10).row
        assert row.mean_run_seconds is not None and 0.005 <= row.mean_run_seconds <= 0.5
        ex = ins.explain(waiting.task_id)
        assert ex is not None and ex.fairness == "time"
        assert ex.charge_basis == "mean run time"
        assert ex.charge == pytest.approx(row.mean_run_seconds, rel=0.01)
        ex2 = ins.explain(costly.task_id)
        assert ex2 is not None and ex2.charge == 2.5 and ex2.charge_basis == "cost"
        state = ins.config_state()
        assert state.settings is not None and state.settings.fairness == "time"


def test_bad_costs_are_refused_before_anything_is_sent():
    for bad in (0, -1, float("nan"), float("inf"), "1", True, 1e10):
        with pytest.raises(InvalidCost):
            Task.create("u", 3, "x", cost=bad)  # type: ignore[arg-type]


def test_the_run_time_a_client_reports_is_charged_not_the_leases_age(make_queue, make_config):
    config = make_config(queue={"fairness": "time"})
    q = make_queue(config)
    push(q, "u", 2)
    t = q.pop()
    time.sleep(0.05)  # the lease is 50 ms old ...
    t.note_run(0.002)  # ... but the handler ran 2 ms
    q.complete(t)
    with Inspector(config) as ins:
        assert ins.user("u", 0, 1).row.mean_run_seconds == pytest.approx(0.002)
    t = q.pop()
    t.note_run(30.0)  # more than the lease's age: clamped to it
    q.complete(t)
    with Inspector(config) as ins:
        mean = ins.user("u", 0, 1).row.mean_run_seconds
    assert mean is not None and mean < 1.0


@pytest.mark.parametrize("worker_kind", ["sync", "async"])
def test_workers_report_each_runs_time(make_config, worker_kind):
    config = make_config(
        queue={"fairness": "time"},
        workers=[{"id": "w1", "steal_targets": "*", "concurrency": 2}],
    )

    def handler(task):
        time.sleep(0.03)

    with TaskQueue(config) as q:
        push(q, "u", 4)
        h = Harness(worker_kind, config, handler)
        try:
            wait_for(lambda: q.stats().counters.get("completed", 0) >= 4)
        finally:
            h.stop()
    with Inspector(config) as ins:
        mean = ins.user("u", 0, 1).row.mean_run_seconds
    assert mean is not None and 0.03 <= mean < 2.0


def test_tenants_are_charged_what_their_users_tasks_cost(make_queue, make_config):
    q = make_queue(make_config(queue={"fairness": "time"}))
    push(q, "t-x", 100, cost=0.1, tenant="t")
    push(q, "t-y", 100, cost=0.1, tenant="t")
    push(q, "solo", 100, cost=0.2)
    counts = Counter(t.user_id for t in pop_n(q, 90))
    # Equal time for the tenant and for solo: the tenant's tasks cost half as much.
    assert counts["t-x"] + counts["t-y"] == 60 and counts["solo"] == 30, counts
    assert counts["t-x"] == counts["t-y"] == 30, counts


def test_by_time_with_caps_and_partitions_loses_nothing(make_queue, make_config):
    q = make_queue(
        make_config(
            queue={"fairness": "time", "partitions": 2, "users": {"a": {"max_inflight": 2}}}
        )
    )
    for u in ("a", "b", "c", "d"):
        push(q, u, 25)
    seen = []
    while len(seen) < 100:
        batch = [q.pop() for _ in range(3)]
        got = [t for t in batch if t is not None]
        assert got, "a pop returned nothing while work is queued"
        assert sum(1 for t in got if t.user_id == "a") <= 2
        for t in got:
            q.complete(t)
        seen += [t.task_id for t in got]
    assert len(set(seen)) == 100
    assert q.pop() is None
