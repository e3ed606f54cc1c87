"""R8: corrupt task hashes and a key of the wrong type planted under a running worker process.

Corrupt records go to the DLQ with a reason; the user whose queue key was written over is
quarantined (paused, with the reason, a queue_unhealthy alert) while every other user keeps
being served; once the key is repaired and the user resumed, its tasks run. Nothing is lost."""

from __future__ import annotations

import pytest

from fairque import Task, TaskQueue
from fairque.core.exceptions import CorruptQueue
from fairque.monitoring import Admin, Inspector
from tests.support.ledger import report, tally
from tests.support.processes import WorkerProcesses
from tests.support.waiting import wait_for


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_corrupt_records_and_a_wrong_type_key(
    server_url, queue_name, make_config, raw, tmp_path, mode
):
    config = make_config()
    workers = WorkerProcesses(server_url, queue_name, tmp_path, mode=mode)
    with TaskQueue(config) as q, Inspector(queue=q) as ins, Admin(queue=q) as admin:
        k = q.session.keys
        good = [f"a{i}" for i in range(20)] + [f"b{i}" for i in range(20)]
        stranded = [f"c{i}" for i in range(5)]  # c's tasks wait at priority 3
        q.push_batch([Task.create(t[0], 3, {"sleep": 0.005}, task_id=t) for t in good + stranded])
        corrupt = {
            "bad-json": ("payload", "{{{"),
            "no-user": ("user", None),
            "bad-pri": ("pri", "9"),
        }
        q.push_batch([Task.create("b", 3, {}, task_id=t) for t in corrupt])
        for task_id, (name, value) in corrupt.items():
            if value is None:
                raw.hdel(k.task(task_id), name)
            else:
                raw.hset(k.task(task_id), name, value)
        raw.rpush(k.prio("a", 3), "1|ghost")  # an entry whose task hash never existed
        # c's queue at priority 5 (one task) is written over with a value of the wrong type:
        # that task's entry is gone with it, its other tasks wait at priority 3.
        q.push(Task.create("c", 5, {}, task_id="c-overwritten"))
        raw.delete(k.prio("c", 5))
        raw.set(k.prio("c", 5), "written over by someone else")

        # A producer pushing to c's broken list is refused, and nothing is written.
        before = raw.dbsize()
        with pytest.raises(CorruptQueue, match="holds a string"):
            q.push(Task.create("c", 5, {}, task_id="refused"))
        assert raw.dbsize() == before

        worker = workers.start("w1", "--concurrency", "2")
        try:
            wait_for(lambda: set(good) <= set(workers.events("done")))
            dead = {e.task_id: e.error for e in wait_for(lambda: len(q.dlq()) >= 3 and q.dlq())}
            assert set(dead) == set(corrupt)
            assert all(err.startswith("corrupt: ") for err in dead.values()), dead
            assert "payload" in dead["bad-json"] and "user" in dead["no-user"]
            assert "priority" in dead["bad-pri"]

            overview = ins.overview()
            assert set(overview.quarantined) == {"c"}
            assert k.prio("c", 5) in overview.quarantined["c"]
            unhealthy = {a.subject for a in ins.alerts() if a.rule == "queue_unhealthy"}
            assert {"c", "queue"} <= unhealthy
            assert worker.poll() is None  # the worker rode it out ...

            q.push_batch([Task.create("a", 3, {}, task_id=f"later{i}") for i in range(5)])
            wait_for(lambda: {f"later{i}" for i in range(5)} <= set(workers.events("done")))
            assert not set(stranded) & set(workers.events("done"))  # ... and served the others

            raw.delete(k.prio("c", 5))  # the operator repairs the key, then resumes c
            admin.resume("c")
            wait_for(lambda: set(stranded) <= set(workers.events("done")))
            assert ins.overview().quarantined == {}
        finally:
            workers.stop_all()
        expected = good + stranded + [f"later{i}" for i in range(5)]
        t = tally(workers.events("done"), expected)
        report(
            f"R8 corrupt hashes x3, ghost entry, wrong-type key ({mode})",
            t,
            f"buried {len(dead)}, quarantined users {len(overview.quarantined)}",
        )
        assert t.lost == set() and t.duplicated == set() and t.phantom == set()
        assert q.stats().counters.get("phantom", 0) >= 1


def test_several_corrupt_payloads_in_one_pop_are_each_buried(make_config, raw):
    """Payloads that are not JSON are found by the popper, which buries them in one call:
    each with its own reason (the call carries every field of each; a missing one once
    shifted the second task's fields onto the first's)."""
    with TaskQueue(make_config()) as q:
        k = q.session.keys
        q.push_batch([Task.create("u", 3, {}, task_id=f"bad{i}") for i in range(3)])
        q.push(Task.create("u", 3, {"ok": True}, task_id="good"))
        for i in range(3):
            raw.hset(k.task(f"bad{i}"), "payload", "{not json")
        popped = q.pop_many(10)
        assert [t.task_id for t in popped] == ["good"]
        dead = {e.task_id: e for e in q.dlq()}
        assert set(dead) == {"bad0", "bad1", "bad2"}
        for entry in dead.values():
            assert entry.error.startswith("corrupt: payload is not valid JSON")
            assert entry.error_type == "CorruptTask"
        assert q.stats().inflight == 1
