"""The queue's live event tail (``Inspector.tail``): every kind of event the scripts report
arrives once, in order, with its task, user, tenant and handler; a reader reads on from its
cursor, and learns when the capped stream dropped entries it had not read."""

from __future__ import annotations

from fairque import Task
from fairque.monitoring import Admin, Inspector
from tests.support.waiting import wait_for


def kinds(page):
    return [(e.event, e.task_id, e.user_id) for e in page.events]


def test_each_end_is_one_event_with_its_task_user_tenant_and_handler(make_queue, make_config):
    q = make_queue(make_config(queue={"max_attempts": 2, "retry_base_seconds": 0.01}))
    ins = Inspector(q.config)
    start = ins.tail()
    q.push_batch([Task.create("ann", 3, i, task_id=f"t{i}", handler="mail", tenant="acme")
                  for i in range(4)])  # fmt: skip
    q.complete(q.pop())  # t0
    q.fail(q.pop(), "smtp down\nsecond line")  # t1: retried (2 attempts)
    q.cancel("t3")  # ready: canceled where it waits
    page = ins.tail(start.cursor)
    assert kinds(page) == [("completed", "t0", "ann"), ("failed", "t1", "ann"),
                           ("canceled", "t3", "ann")]  # fmt: skip
    assert {e.tenant for e in page.events} == {"acme"} and {e.handler for e in page.events} == {
        "mail"
    }
    assert page.events[1].detail == "smtp down second line"  # one line, whatever it held
    assert not page.missed
    assert ins.tail(page.cursor).events == []  # nothing twice

    assert q.pop().task_id == "t2"  # the retry is due after its backoff
    retry = wait_for(q.pop, timeout=5)
    q.fail(retry, "smtp down again")  # attempts used up: dead
    more = ins.tail(page.cursor)
    assert kinds(more) == [("dead", "t1", "ann")] and more.events[0].detail == "smtp down again"
    ins.close()


def test_cancels_drains_requeues_hand_backs_and_throttles_are_reported(make_queue, make_config):
    config = make_config(queue={"max_attempts": 1, "users": {"slow": {"rate": "1/h", "burst": 1}}})
    q = make_queue(config)
    ins = Inspector(q.config)
    admin = Admin(q.config)
    start = ins.tail()
    q.push_batch([Task.create("bob", 3, i, task_id=f"b{i}") for i in range(3)])
    running = q.pop()  # b0
    q.cancel("b0")  # asked while it runs: ends canceled when its lease ends
    q.complete(running)
    q.release([q.pop()])  # b1 handed back unfinished: ready again
    admin.drain("bob")  # b2 and b1 canceled unrun
    q.push(Task.create("bob", 3, "x", task_id="b3"))
    q.fail(q.pop(), "boom")  # dead at once (one attempt)
    admin.requeue(["b3"])
    q.push_batch([Task.create("slow", 3, i) for i in range(2)])
    q.complete(q.pop())  # b3 again (requeued)
    q.complete(q.pop())  # slow's one token
    assert q.pop() is None  # slow throttled now
    page = ins.tail(start.cursor)
    bob = [(e.event, e.task_id, e.detail) for e in page.events if e.user_id == "bob"]
    assert [b[:2] for b in bob] == [
        ("canceled", "b0"),
        ("requeued", "b1"),
        ("canceled", "b2"),  # drained in queue order: b1 went back to the end
        ("canceled", "b1"),
        ("dead", "b3"),
        ("requeued", "b3"),
        ("completed", "b3"),
    ]
    assert bob[0][2] and bob[2][2] == "drained" and bob[5][2] == "from the DLQ"  # who, why
    slow = [(e.event, e.task_id) for e in page.events if e.user_id == "slow"]
    assert slow[0][0] == "completed" and slow[1:] == [("throttled", None)]
    assert "rate limit" in page.events[-1].detail
    admin.close()
    ins.close()


def test_a_child_canceled_by_its_dead_parent_is_reported(make_queue, make_config):
    q = make_queue(make_config(queue={"max_attempts": 1}))
    ins = Inspector(q.config)
    start = ins.tail()
    q.push(Task.create("u", 3, "p", task_id="parent"))
    q.push(Task.create("u", 3, "c", task_id="child", after=["parent"]))
    q.fail(q.pop(), "no")
    page = ins.tail(start.cursor)
    assert kinds(page) == [("dead", "parent", "u"), ("canceled", "child", "u")]
    assert page.events[1].detail == "parent parent dead"
    ins.close()


def test_an_expired_lease_is_a_failed_event(make_queue, make_config):
    config = make_config(queue={"visibility_timeout": 0.3, "retry_base_seconds": 0.05})
    q = make_queue(config)
    ins = Inspector(q.config)
    start = ins.tail()
    q.push(Task.create("u", 3, "job", task_id="j"))
    assert q.pop() is not None  # and never finished

    def reported():
        q.pop()  # each pop reaps expired leases
        return [e for e in ins.tail(start.cursor).events if e.event == "failed"]

    failed = wait_for(reported, timeout=5)
    assert failed[0].task_id == "j" and "lease expired" in failed[0].detail
    ins.close()


def test_a_reader_that_fell_behind_the_cap_is_told(make_queue, make_config, raw):
    q = make_queue(make_config())
    ins = Inspector(q.config)
    q.push_batch([Task.create("u", 3, i) for i in range(3)])
    q.complete(q.pop())
    first = ins.tail()
    q.complete(q.pop())
    q.complete(q.pop())
    # The cap trims the oldest entries: here the unread one after the cursor goes too.
    raw.xtrim(q.session.keys.key("tail"), maxlen=1, approximate=False)
    page = ins.tail(first.cursor)
    assert page.missed and len(page.events) == 1
    assert not ins.tail(page.cursor).missed
    ins.close()


def test_a_new_reader_starts_at_the_newest_and_a_full_page_leaves_the_rest(make_queue, make_config):
    q = make_queue(make_config())
    ins = Inspector(q.config)
    for i in range(5):
        q.push(Task.create("u", 3, i, task_id=f"n{i}"))
        q.complete(q.pop())
    newest = ins.tail(limit=2)  # a new reader starts from the newest entries
    assert [e.task_id for e in newest.events] == ["n3", "n4"]
    start = ins.tail(["0-0"] * len(newest.cursor), limit=3)
    assert [e.task_id for e in start.events] == ["n0", "n1", "n2"]
    assert [e.task_id for e in ins.tail(start.cursor, limit=3).events] == ["n3", "n4"]
    ins.close()


def test_the_stream_holds_about_ten_thousand_events_and_goes_an_hour_after_the_last(
    make_queue, make_config, raw
):
    q = make_queue(make_config())
    for i in range(0, 12_000, 2_000):
        q.push_batch([Task.create(f"u{j % 50}", 3, None) for j in range(i, i + 2_000)])
    while batch := q.pop_many(1_000):
        q.complete_many([(t, None) for t in batch])  # an entry of 1,000 events per call
    key = q.session.keys.key("tail")
    entries = raw.xrange(key)
    events = sum(len(fields["x"].split("\n")) for _, fields in entries)
    assert len(entries) <= 10 and 10_000 - 1_000 <= events <= 10_000  # the newest kept
    assert 0 < raw.pttl(key) <= 3_600_000
