"""Inspector snapshots checked field by field against a known workload."""

from __future__ import annotations

import time

import pytest

from fairque import Priority, Task, TaskQueue, Worker
from fairque.monitoring import Admin, Inspector
from fairque.monitoring import inspect_ops as io
from fairque.scheduler import ScheduledTask, TaskScheduler
from tests.support.waiting import wait_for


@pytest.fixture
def cfg(make_config):
    return make_config(
        queue={"users": {"a": {"weight": 2}, "capped": {"max_inflight": 1}}, "max_attempts": 1},
    )


@pytest.fixture
def q(cfg):
    with TaskQueue(cfg) as queue:
        yield queue


@pytest.fixture
def ins(cfg, q, monitor):
    return monitor(Inspector, cfg)


def workload(q: TaskQueue) -> None:
    """a: 2 critical, 5 normal, 1 very low; b: 3 very high; c: 4 low (+1 delayed)."""
    q.push_batch([Task.create("a", Priority.CRITICAL, i, task_id=f"a-c{i}") for i in range(2)])
    q.push_batch([Task.create("a", Priority.NORMAL, i, task_id=f"a-n{i}") for i in range(5)])
    q.push(Task.create("a", Priority.VERY_LOW, "x", task_id="a-low"))
    q.push_batch([Task.create("b", Priority.VERY_HIGH, i, task_id=f"b-{i}") for i in range(3)])
    q.push_batch([Task.create("c", Priority.LOW, i, task_id=f"c-{i}") for i in range(4)])
    q.push(Task.create("c", Priority.LOW, "later", task_id="c-later", delay=600))


def test_overview_totals_counters_and_throughput(q, ins):
    workload(q)
    t = q.pop()
    q.complete(t)
    held = q.pop()  # stays in flight
    doomed = q.pop()
    q.fail(doomed, "boom")  # max_attempts 1: dead
    o = ins.overview()
    assert o.queue == q.session.queue.name
    assert (o.totals.ready, o.totals.delayed, o.totals.inflight, o.totals.dead) == (12, 1, 1, 1)
    assert o.totals.backlogged_users == 3 and o.totals.active_users == 3
    assert o.totals.paused_users == 0 and o.totals.workers == 0
    assert o.counters["pushed"] == 16 and o.counters["popped"] == 3 and o.counters["completed"] == 1
    assert len(o.throughput) == 60
    last = o.throughput[-1]
    assert (last.pushed, last.popped, last.completed, last.dead) == (16, 3, 1, 1)
    assert o.server.version and o.server.maxmemory_policy == "noeviction"
    assert held.task_id


def test_user_rows_by_backlog_with_shares_waits_and_ages(q, ins):
    workload(q)
    time.sleep(0.2)
    served = [q.pop() for _ in range(3)]  # one dispatch each for a (weight 2 comes second), b, c
    page = ins.users()
    assert [r.user_id for r in page.rows] == ["a", "c", "b"] and page.total_users == 3
    a, c, b = page.rows
    assert (a.ready, a.critical, a.by_priority) == (7, 1, {1: 1, 2: 0, 3: 5, 4: 0, 5: 0})
    assert a.inflight == 1 and a.weight == 2 and not a.paused and not a.capped
    assert a.oldest_age_seconds is not None and a.oldest_age_seconds >= 0.2
    assert a.p50_wait_ms is not None and a.p50_wait_ms >= 150
    assert (b.ready, b.by_priority[5]) == (2, 2) and (c.ready, c.by_priority[2]) == (3, 3)
    assert sum(r.served_5m for r in page.rows) == 3
    assert sum(r.served_share for r in page.rows) == pytest.approx(1.0, abs=0.01)
    assert a.fair_share == pytest.approx(0.5) and b.fair_share == pytest.approx(0.25)
    assert [r.user_id for r in ins.users(sort="name").rows] == ["a", "b", "c"]
    assert [r.user_id for r in ins.users(offset=1, limit=1).rows] == ["c"]
    assert {t.user_id for t in served} == {"a", "b", "c"}


def test_fair_share_is_what_a_fair_scheduler_would_have_given_each_user(q, ins):
    """Fair share = weighted max-min split of the window's dispatches by demand (served +
    queued): a light user that got all it asked for is at its fair share, a flooding user may
    take the rest, and a user that waited with work queued shows served below fair."""
    q.push(Task.create("light", 3, 0))
    q.push_batch([Task.create("flood", 3, i) for i in range(10)])
    for _ in range(4):  # light once, flood three times (round-robin, then flood alone)
        q.complete(q.pop())
    rows = {r.user_id: r for r in ins.users(include_idle=True).rows}
    assert rows["light"].served_share == pytest.approx(0.25)
    assert rows["light"].fair_share == pytest.approx(0.25)  # it wanted one: it got one
    assert rows["flood"].served_share == rows["flood"].fair_share == pytest.approx(0.75)
    q.push_batch([Task.create("waiting", 3, i) for i in range(3)])  # queued, not yet served
    rows = {r.user_id: r for r in ins.users(include_idle=True).rows}
    assert rows["waiting"].served_share == 0
    # 4 dispatches: light's 1 satisfied, flood and waiting split the other 3 equally.
    assert rows["waiting"].fair_share == pytest.approx(0.375)
    assert rows["flood"].fair_share == pytest.approx(0.375)
    assert ins.user("nobody").row.fair_share == 0  # asked for nothing


def test_capped_and_paused_flags(q, ins, cfg):
    q.push_batch([Task.create("capped", 3, i) for i in range(3)])
    q.pop()
    (row,) = ins.users().rows
    assert row.capped and row.max_inflight == 1 and row.inflight == 1
    Admin(cfg, queue=q).pause("capped")
    assert ins.users().rows[0].paused


def test_user_detail_pages_pending_tasks_in_order(q, ins):
    workload(q)
    d = ins.user("a", limit=3)
    assert [t.task_id for t in d.pending[6]] == ["a-c0", "a-c1"]
    assert [t.task_id for t in d.pending[3]] == ["a-n0", "a-n1", "a-n2"]
    assert all(t.age_seconds >= 0 for t in d.pending[3])
    assert [t.task_id for t in ins.user("a", offset=3, limit=3).pending[3]] == ["a-n3", "a-n4"]
    assert len(d.backlog_history) == 60 and d.backlog_history[-1] == 8
    assert d.row.ready == 8


def test_explain_in_every_state(q, ins, cfg):
    workload(q)
    ready = ins.explain("a-low")
    assert ready.state == "ready" and ready.ahead_in_user == 7  # 2 critical + 5 normal
    assert ready.dispatches_ahead >= 7 and ready.blocked_by == []
    assert "7 of a's tasks run before it" in ready.summary
    assert ins.explain("a-n2").ahead_in_user == 4
    assert ins.explain("a-c1").ahead_in_user == 1
    assert ins.explain("c-later").state == "delayed" and ins.explain("c-later").due_at
    leased = q.pop()
    ex = ins.explain(leased.task_id)
    assert ex.state == "leased" and ex.lease_deadline is not None
    q.fail(leased, "exploded")
    dead = ins.explain(leased.task_id)
    assert dead.state == "dead" and dead.error == "exploded" and "DLQ" in dead.summary
    t = q.pop()
    q.complete(t)
    assert ins.explain(t.task_id).state == "completed"
    admin = Admin(cfg, queue=q)
    admin.pause("b")
    assert "user is paused" in ins.explain("b-2").blocked_by
    admin.drain("c")
    assert ins.explain("c-0").state == "canceled"
    assert ins.explain("no-such-task") is None


def test_explain_sees_a_cap(q, ins):
    q.push_batch([Task.create("capped", 3, i, task_id=f"k{i}") for i in range(2)])
    q.pop()
    assert any("cap" in b for b in ins.explain("k1").blocked_by)


def test_dlq_pages_and_groups(q, ins):
    q.push_batch([Task.create(u, 3, i, task_id=f"{u}-{i}") for u in ("a", "b") for i in range(3)])
    for _ in range(6):
        t = q.pop()
        q.fail(t, ValueError("bad input" if t.user_id == "a" else "timeout talking to S3"))
    groups = ins.dlq_groups("error")
    assert [(g.key, g.count) for g in groups.groups] == [
        ("bad input", 3),
        ("timeout talking to S3", 3),
    ]
    assert groups.total == groups.scanned == 6
    assert {g.key for g in ins.dlq_groups("user").groups} == {"a", "b"}
    page = ins.dlq(limit=4)
    assert len(page) == 4 and all(e.error_type == "ValueError" for e in page)


def test_workers_live_and_stale(cfg, q, ins, make_config):
    config = make_config(workers=[{"id": "w1", "steal_targets": "*", "heartbeat_interval": 0.2}])
    w = Worker(config, lambda t: None)
    import threading

    th = threading.Thread(target=w.run, daemon=True)
    th.start()
    try:
        (info,) = wait_for(ins.workers)
        assert info.worker_id == "w1" and not info.stale and info.pid and info.kind == "sync"
    finally:
        w.stop()
        th.join(10)
    assert ins.workers() == []  # a clean exit leaves the registry
    # A worker that died without a word: its entry stays until it is flagged stale.
    q.client.zadd(q.session.keys.key("workers"), {"ghost": 1000})
    (ghost,) = ins.workers()
    assert ghost.worker_id == "ghost" and ghost.stale


def test_schedules_and_audit(cfg, q, ins):
    TaskScheduler(cfg, queue=q).add(ScheduledTask(name="hourly", cron="0 * * * *", user_id="a"))
    (info,) = ins.schedules()
    assert info.schedule.name == "hourly" and info.next_run is not None
    Admin(cfg, queue=q, actor="tester@host").pause("a")
    (entry,) = ins.audit()
    assert (entry.actor, entry.action, entry.target, entry.count) == (
        "tester@host",
        "pause",
        "a",
        1,
    )


class CountingQueue:
    """Counts the steps (round trips) an operation takes."""

    def __init__(self, q: TaskQueue) -> None:
        self.q = q
        self.steps = 0

    def run(self, op):
        step = next(op)
        try:
            while True:
                self.steps += 1
                step = op.send(self.q._send(step))
        except StopIteration as stop:
            return stop.value


def test_overview_round_trips_do_not_grow_with_users_or_tasks(q):
    counter = CountingQueue(q)
    counter.run(io.overview(q.session))
    small = counter.steps
    q.push_batch([Task.create(f"user-{i}", 3, None) for i in range(3000)])
    counter.steps = 0
    counter.run(io.overview(q.session))
    assert counter.steps == small == 2


def test_one_pop_of_many_tasks_of_one_user_is_counted_exactly(q, ins):
    """A pop writes its wait samples, per-minute counts and leases once, at its end: a pop of
    more tasks than Lua passes to one command (about 8,000 values) counts each dispatch once."""
    q.push_batch([Task.create("solo", 3, i) for i in range(8200)])
    q.push_batch([Task.create("other", 3, i) for i in range(3)])
    leased = q.pop_many(8203)
    assert len(leased) == len({t.task_id for t in leased}) == 8203
    assert ins.overview().totals.inflight == 8203
    solo = ins.user("solo").row
    assert (solo.inflight, solo.ready, solo.served_5m) == (8200, 0, 8200)
    assert ins.user("other").row.served_5m == 3
    raw = q.client
    assert raw.llen(q.session.keys.key("waits", user="solo")) == 100  # trimmed back at 150
    assert raw.llen(q.session.keys.key("waits", user="other")) == 3
    hist = ins.wait_histogram()
    assert sum(n for bucket, n in hist.items() if bucket != "sum_ms") == 8203
    for t in leased:
        q.complete(t)
    assert ins.overview().totals.inflight == 0


def test_counters_are_exact_after_a_pop_serving_users_several_times(q, ins):
    """A pop writes a user's counters once for all the times it served it: after it, every
    per-user and queue-wide figure is what the dispatches left, and no counter of a drained
    priority is kept at zero."""
    q.push_batch([Task.create("a", Priority.NORMAL, i) for i in range(3)])
    q.push_batch([Task.create("a", Priority.HIGH, i) for i in range(2)])
    q.push_batch([Task.create("b", Priority.NORMAL, i) for i in range(4)])
    q.push(Task.create("c", Priority.VERY_LOW, 0))
    leased = q.pop_many(7)
    served = {u: [t for t in leased if t.user_id == u] for u in "abc"}
    assert len(served["c"]) == 1 and len(served["a"]) + len(served["b"]) == 6
    rows = {r.user_id: r for r in ins.users(include_idle=True).rows}
    for user, pushed in (("a", 5), ("b", 4), ("c", 1)):
        assert rows[user].inflight == len(served[user])
        assert rows[user].ready == pushed - len(served[user])
        assert sum(rows[user].by_priority.values()) + rows[user].critical == rows[user].ready
    assert rows["a"].by_priority[4] == 0  # both HIGH tasks went first
    totals = ins.overview().totals
    assert (totals.ready, totals.inflight) == (3, 7)
    raw = q.client.hgetall(q.session.keys.key("backlog"))
    backlog = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
    assert all(v > 0 for v in backlog.values()), backlog
    assert backlog["*"] == 3 and "c|1" not in backlog
