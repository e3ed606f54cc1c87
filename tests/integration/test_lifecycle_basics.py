"""Leases, acknowledgements, retries and delays as far as the queue itself goes."""

from __future__ import annotations

import time

from fairque import AckResult, Task, TaskState
from fairque.queue.ops import PUSH_CHUNK


def test_pop_writes_a_lease_and_complete_stores_the_result(make_queue, raw):
    q = make_queue()
    q.push(Task.create("u1", payload={"n": 1}, task_id="job-1"))
    t = q.pop()
    assert t.state == TaskState.LEASED and t.attempts == 1
    assert t.lease is not None and t.lease.attempt == 1
    assert t.lease.deadline.timestamp() > time.time() + 30  # default lease is 60 s
    assert q.stats().inflight == 1
    assert q.complete(t, {"ok": True}) == AckResult.OK
    stored = raw.hgetall(q.session.keys.task("job-1"))
    assert stored["state"] == "completed" and stored["result"] == '{"ok":true}'
    assert 0 < raw.ttl(q.session.keys.task("job-1")) <= 3600
    assert q.complete(t) == AckResult.STALE  # a second ack changes nothing
    assert q.stats().inflight == 0


def test_a_stale_token_is_rejected(make_queue):
    q = make_queue()
    q.push(Task.create("u1", payload=1))
    t = q.pop()
    forged = t.model_copy(
        update={
            "lease": t.lease.model_copy(update={"token": t.lease.token.split(".")[0] + ".forged"})
        }
    )
    assert q.complete(forged) == AckResult.STALE
    assert q.fail(forged, "x") == AckResult.STALE
    assert q.complete(t) == AckResult.OK


def test_fail_retries_with_backoff_then_buries(make_queue, make_config, raw):
    q = make_queue(make_config(queue={"max_attempts": 2, "retry_base_seconds": 0.2}))
    q.push(Task.create("u1", payload=1, task_id="flaky"))
    t = q.pop()
    assert q.fail(t, ValueError("first")) == AckResult.RETRY
    assert q.pop() is None  # backing off (0.1-0.2 s)
    assert q.stats().delayed == 1
    time.sleep(0.25)
    t2 = q.pop()
    assert t2 is not None and t2.task_id == "flaky" and t2.attempts == 2
    assert q.fail(t2, ValueError("second")) == AckResult.DEAD
    stored = raw.hgetall(q.session.keys.task("flaky"))
    assert stored["state"] == "dead"
    assert stored["error"] == "second" and stored["etype"] == "ValueError"
    assert "ValueError: second" in stored["tb"]
    assert q.stats().dead == 1


def test_per_task_max_attempts_overrides_the_queue(make_queue):
    q = make_queue()
    q.push(Task.create("u1", payload=1, max_attempts=1))
    assert q.fail(q.pop(), "once") == AckResult.DEAD


def test_delayed_task_starts_no_earlier_than_due(make_queue):
    q = make_queue()
    res = q.push(Task.create("u1", payload="later", delay=0.3))
    assert res.state == TaskState.DELAYED
    q.push(Task.create("u1", payload="now"))
    assert q.pop().payload == "now"
    start = time.monotonic()
    while (t := q.pop()) is None:
        time.sleep(0.01)
    assert time.monotonic() - start >= 0.25
    assert t.payload == "later"


def test_corrupt_payload_is_buried_not_returned(make_queue, raw):
    q = make_queue()
    q.push(Task.create("u1", payload={"a": 1}, task_id="bad"))
    q.push(Task.create("u1", payload={"a": 2}, task_id="good"))
    raw.hset(q.session.keys.task("bad"), "payload", "{not json")
    assert q.pop().task_id == "good"
    stored = raw.hgetall(q.session.keys.task("bad"))
    assert stored["state"] == "dead" and stored["error"].startswith("corrupt: payload")


def test_corrupt_hash_missing_field_goes_to_the_dlq(make_queue, raw):
    q = make_queue()
    q.push(Task.create("u1", payload=1, task_id="broken"))
    q.push(Task.create("u1", payload=2, task_id="fine"))
    raw.hdel(q.session.keys.task("broken"), "payload")
    assert q.pop().task_id == "fine"
    assert raw.hget(q.session.keys.task("broken"), "error") == "corrupt: missing field payload"
    assert q.stats().dead == 1


def test_a_batch_with_tasks_that_exist_creates_only_the_new_ones(make_queue):
    q = make_queue()
    q.push(Task.create("u", 3, {"a": 1}, task_id="old"))
    done = q.pop()
    q.complete(done)  # finished: its hash stays for the result TTL
    q.push(Task.create("u", 3, {"b": 1}, task_id="queued"))
    batch = [Task.create("u", 3, {"n": i}, task_id=f"new{i}") for i in range(3)]
    batch[1:1] = [Task.create("u", 3, {"a": 1}, task_id="old"),
                  Task.create("u", 3, {"b": 1}, task_id="queued")]  # fmt: skip
    results = q.push_batch(batch)
    assert [(r.task_id, r.created, r.state.value) for r in results] == [
        ("new0", True, "ready"), ("old", False, "completed"), ("queued", False, "ready"),
        ("new1", True, "ready"), ("new2", True, "ready"),
    ]  # fmt: skip
    assert sorted(t.task_id for t in q.pop_many(10)) == ["new0", "new1", "new2", "queued"]


def test_a_delayed_task_has_waited_since_it_was_due_not_since_it_was_pushed(make_queue):
    """A dispatch's wait runs from when the task became ready: for a delayed task its due
    time (the pop that promotes it does not reset it to zero, nor date it from the push)."""
    q = make_queue()
    pushed_at = time.monotonic()
    q.push(Task.create("late", 3, {}, delay=0.3))
    time.sleep(0.6)
    task = q.pop()
    age_ms = (time.monotonic() - pushed_at) * 1000
    assert task is not None and task.lease is not None
    assert 250 <= task.lease.waited_ms <= age_ms - 250  # ~age - 300: since due, not since push


def test_a_task_without_handler_or_attempts_stores_neither_and_pops_whole(make_queue, raw):
    """The usual task's hash leaves out the fields it has no value for, and its id and
    attempt 0 (each stored field is a search on every later read); readers take the missing
    ones as none."""
    q = make_queue()
    q.push(Task.create("u1", payload=1, task_id="plain"))
    q.push(Task.create("u1", payload=2, task_id="named", handler="resize", max_attempts=2))
    plain = set(raw.hgetall(q.session.keys.task("plain")))
    assert plain == {"user", "pri", "payload", "state", "created", "seq"}
    named = raw.hgetall(q.session.keys.task("named"))
    assert (named["handler"], named["max_att"]) == ("resize", "2")
    info = q.get_task("plain")
    assert info is not None and info.handler is None and info.max_attempts is None
    assert (info.task_id, info.attempts) == ("plain", 0)
    first, second = q.pop(), q.pop()
    assert (first.task_id, first.handler, first.max_attempts) == ("plain", None, None)
    assert (second.task_id, second.handler, second.max_attempts) == ("named", "resize", 2)
    assert first.lease is not None and first.lease.attempt == 1
    assert q.fail(first, "boom") == AckResult.RETRY  # the queue's default attempts apply


def test_a_batch_whose_last_call_holds_one_task_answers_every_task(make_queue):
    """A batch goes in calls of PUSH_CHUNK tasks; a call of one task is answered with its
    state alone, and that must not be read as a list of states."""
    q = make_queue()
    tasks = [Task.create("u1", payload=i) for i in range(PUSH_CHUNK + 1)]
    results = q.push_batch(tasks)
    assert [r.task_id for r in results] == [t.task_id for t in tasks]
    assert all(r.created and r.state == TaskState.READY for r in results)
