"""Leases: expiry brings a task back, heartbeats keep it, release hands it back at once."""

from __future__ import annotations

import time

from fairque import AckResult, Task, TaskState


def short_lease(make_config, **queue):
    return make_config(queue={"visibility_timeout": 0.3, "retry_base_seconds": 0.05, **queue})


def pop_until(q, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (t := q.pop()) is not None:
            return t
        time.sleep(0.02)
    return None


def test_an_expired_lease_comes_back_and_the_zombie_is_refused(make_queue, make_config):
    config = short_lease(make_config)
    crashed, healthy = make_queue(config), make_queue(config)
    crashed.push(Task.create("u1", payload="job", task_id="j1"))
    held = crashed.pop()
    assert healthy.pop() is None  # leased: nobody else gets it
    again = pop_until(healthy)  # after 0.3 s lease + backoff
    assert again is not None and again.task_id == "j1" and again.attempts == 2
    assert crashed.complete(held) == AckResult.STALE  # the zombie's late ack changes nothing
    assert healthy.complete(again) == AckResult.OK
    counters = healthy.stats().counters
    assert counters["expired"] == 1 and counters["completed"] == 1


def test_expiry_counts_as_an_attempt_until_the_dlq(make_queue, make_config, raw):
    q = make_queue(short_lease(make_config, max_attempts=2))
    q.push(Task.create("u1", payload="job", task_id="j1"))
    assert q.pop() is not None
    assert pop_until(q) is not None  # attempt 2
    time.sleep(0.4)
    assert q.pop() is None  # the reap inside this pop buried it
    stored = raw.hgetall(q.session.keys.task("j1"))
    assert stored["state"] == "dead" and stored["etype"] == "LeaseExpired"
    assert q.stats().dead == 1 and q.stats().inflight == 0


def test_heartbeat_keeps_a_long_task_leased(make_queue, make_config):
    q = make_queue(short_lease(make_config))
    q.push(Task.create("u1", payload="long", task_id="j1"))
    t = q.pop()
    for _ in range(4):  # 0.6 s in all, twice the lease
        time.sleep(0.15)
        deadlines = q.heartbeat([t])
        assert deadlines["j1"] is not None
    assert q.pop() is None
    assert q.complete(t) == AckResult.OK


def test_heartbeat_reports_a_lost_lease(make_queue, make_config):
    q = make_queue(short_lease(make_config))
    q.push(Task.create("u1", payload="x", task_id="j1"))
    t = q.pop()
    time.sleep(0.35)
    assert pop_until(q) is not None  # someone else has it now
    assert q.heartbeat([t]) == {"j1": None}


def test_release_hands_tasks_back_at_once_without_counting_the_attempt(make_queue, raw):
    q = make_queue()
    q.push_batch([Task.create("u1", payload=i, task_id=f"j{i}") for i in range(3)])
    held = [q.pop() for _ in range(3)]
    assert q.release(held[1:]) == [AckResult.OK, AckResult.OK]
    assert q.release(held[1:2]) == [AckResult.STALE]
    assert raw.hget(q.session.keys.task("j1"), "state") == TaskState.READY
    again = [q.pop(), q.pop()]
    assert sorted(t.task_id for t in again) == ["j1", "j2"]
    assert all(t.attempts == 1 for t in again)
    assert q.stats().inflight == 3


def test_an_ack_past_the_deadline_is_stale_even_before_anyone_reaps(make_queue, raw):
    q = make_queue()
    q.push_batch([Task.create("u1", payload=i, task_id=f"late{i}") for i in range(3)])
    done, failed, beaten = q.pop(), q.pop(), q.pop()
    for t in (done, failed, beaten):  # the deadline passed; no pop or beat has reaped yet
        raw.hset(q.session.keys.task(t.task_id), "deadline", 1)
    assert q.complete(done) == AckResult.STALE
    assert q.fail(failed, "late") == AckResult.STALE
    assert q.heartbeat([beaten]) == {beaten.task_id: None}
    assert {q.get_task(t.task_id).state for t in (done, failed, beaten)} == {TaskState.LEASED}
