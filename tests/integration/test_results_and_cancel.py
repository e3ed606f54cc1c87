"""Waiting on a task by id (no polling) and canceling it, whatever its state: the outcome a
waiter gets, and what a cancel leaves in the server (counts, round-robin, DLQ)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from fairque import (
    AckResult,
    CancelOutcome,
    ResultTimeout,
    Task,
    TaskCanceled,
    TaskFailed,
    TaskNotFound,
    TaskQueue,
    TaskState,
)
from fairque.queue import control


def later(seconds: float, fn: Any) -> threading.Thread:
    """Run ``fn`` in a thread after ``seconds`` (while the test thread waits)."""

    def run() -> None:
        time.sleep(seconds)
        fn()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def events_of(q: Any, task_id: str, timeout: float = 10) -> list[Any]:
    """Every event ``q.watch`` yields, from a sync queue or an asyncio one (SyncFacade)."""
    stream = q.watch(task_id, timeout)
    if hasattr(stream, "__aiter__"):

        async def collect() -> list[Any]:
            return [e async for e in stream]

        return q._runner.run(collect())
    return list(stream)


def test_a_waiter_gets_the_result_once_another_process_completes_it(make_queue, make_config):
    config = make_config()
    q = make_queue(config)
    q.push(Task.create("u1", payload={"n": 7}, task_id="r1"))

    def work() -> None:
        with TaskQueue(config) as other:
            got = other.pop()
            assert got is not None
            assert other.complete(got, {"doubled": 14}) == AckResult.OK

    thread = later(0.3, work)  # the wait below is armed well before the completion
    assert q.result("r1", timeout=10) == {"doubled": 14}
    thread.join()
    assert q.result("r1", timeout=0) == {"doubled": 14}  # ended: answered at once


def test_a_dead_task_raises_task_failed_with_its_error(make_queue, make_config):
    q = make_queue(make_config(queue={"max_attempts": 1}))
    q.push(Task.create("u1", payload=1, task_id="d1"))
    got = q.pop()
    try:
        raise KeyError("no such image")
    except KeyError as exc:
        assert q.fail(got, exc) == AckResult.DEAD
    with pytest.raises(TaskFailed) as caught:
        q.result("d1", timeout=5)
    err = caught.value
    assert err.task_id == "d1" and err.error_type == "KeyError" and err.attempts == 1
    assert "no such image" in err.error and "KeyError" in err.traceback


def test_a_wait_times_out_with_a_timeout_error_and_an_unknown_id_is_not_found(make_queue):
    q = make_queue()
    q.push(Task.create("u1", payload=1, task_id="slow"))
    started = time.monotonic()
    with pytest.raises(ResultTimeout) as caught:
        q.result("slow", timeout=0.3)
    assert isinstance(caught.value, TimeoutError)
    assert time.monotonic() - started >= 0.3
    with pytest.raises(TaskNotFound):
        q.result("never-pushed", timeout=1)
    assert q.get_task("slow").state == TaskState.READY  # waiting changed nothing else


def test_canceling_a_ready_task_is_exact_and_wakes_its_waiter(make_queue, raw):
    q = make_queue()
    for i in range(3):
        q.push(Task.create("u1", payload=i, task_id=f"a{i}"))
    q.push(Task.create("u2", payload=0, task_id="b0"))
    later(0.3, lambda: q_cancel(q.config, "a1"))
    with pytest.raises(TaskCanceled) as caught:
        q.result("a1", timeout=10)
    assert caught.value.task_id == "a1" and caught.value.canceled_by == "tests"
    stats = q.stats()
    assert stats.ready == 3 and stats.counters["canceled"] == 1
    assert {u.user_id: u.ready for u in stats.users} == {"u1": 2, "u2": 1}
    # The canceled task is never handed out; the others are, in order.
    popped = [q.pop().task_id for _ in range(3)]
    assert sorted(popped) == ["a0", "a2", "b0"] and q.pop() is None
    info = q.get_task("a1")
    assert info.state == TaskState.CANCELED and info.canceled_by == "tests"
    assert info.attempts == 0 and raw.ttl(q.session.keys.task("a1")) > 0


def q_cancel(config: Any, task_id: str) -> None:
    with TaskQueue(config) as other:
        assert other.cancel(task_id, by="tests").outcome == CancelOutcome.CANCELED


def test_canceling_a_users_last_task_takes_it_out_of_the_round_robin(make_queue, raw):
    q = make_queue()
    q.push(Task.create("solo", payload=1, task_id="s1"))
    result = q.cancel("s1")
    assert result.outcome == CancelOutcome.CANCELED and result.state == "ready"
    keys = q.session.keys
    assert raw.zscore(keys.ready("_"), "solo") is None  # no longer picked
    assert raw.zscore(keys.key("ubacklog"), "solo") is None
    assert q.stats().ready == 0 and q.pop() is None


def test_a_delayed_task_is_canceled_before_it_is_due(make_queue):
    q = make_queue()
    q.push(Task.create("u1", payload=1, task_id="later", delay=0.3))
    assert q.cancel("later").outcome == CancelOutcome.CANCELED
    time.sleep(0.4)
    assert q.pop() is None
    stats = q.stats()
    assert stats.delayed == 0 and stats.ready == 0
    assert q.get_task("later").state == TaskState.CANCELED


def test_canceling_an_ended_task_says_so_and_changes_nothing(make_queue, nothing_written):
    q = make_queue()
    q.push(Task.create("u1", payload=1, task_id="done"))
    q.complete(q.pop(), "ok")
    with nothing_written():
        answer = q.cancel("done")
        missing = q.cancel("nope")
    assert answer.outcome == CancelOutcome.ENDED and answer.state == "completed"
    assert not answer.changed and missing.outcome == CancelOutcome.NOT_FOUND


def test_a_running_tasks_cancel_makes_its_ack_a_cancel_never_a_retry(make_queue):
    q = make_queue()
    for name in ("c", "f"):
        q.push(Task.create("u1", payload=name, task_id=name))
    first, second = q.pop(), q.pop()
    assert [r.outcome for r in (q.cancel("c"), q.cancel("f"))] == [CancelOutcome.REQUESTED] * 2
    assert q.cancel("c").state == "canceling"  # asked before: nothing more happens
    assert q.complete(first, {"late": True}) == AckResult.CANCELED
    assert q.fail(second, RuntimeError("stopped")) == AckResult.CANCELED
    for task_id in ("c", "f"):
        info = q.get_task(task_id)
        assert info.state == TaskState.CANCELED and info.attempts == 1
        with pytest.raises(TaskCanceled):
            q.result(task_id, timeout=1)
    stats = q.stats()
    assert stats.inflight == 0 and stats.dead == 0 and stats.delayed == 0 and stats.ready == 0
    assert q.dlq() == []


def test_a_canceled_task_whose_worker_died_ends_canceled_at_its_expiry(make_queue, make_config):
    q = make_queue(make_config(queue={"visibility_timeout": 0.3, "retry_base_seconds": 0.05}))
    q.push(Task.create("u1", payload=1, task_id="orphan"))
    held = q.pop()
    q.cancel("orphan")
    time.sleep(0.5)
    assert q.pop() is None  # the reap in this pop ends it: canceled, not retried
    assert q.get_task("orphan").state == TaskState.CANCELED
    assert q.complete(held) == AckResult.STALE
    assert q.stats().counters.get("retried", 0) == 0


def test_the_cancels_list_names_the_task_to_the_worker_holding_it(make_queue, make_config, raw):
    config = make_config(workers=[{"id": "w1", "steal_targets": "*"}])
    worker = make_queue(config, worker_id="w1")
    worker.push(Task.create("u1", payload=1, task_id="x"))
    assert worker.pop() is not None
    worker.cancel("x")
    assert raw.lrange(worker.session.keys.key("cancels", worker_id="w1"), 0, -1) == ["x"]


def test_watch_yields_progress_then_the_end(make_queue, make_config):
    config = make_config()
    q = make_queue(config)
    q.push(Task.create("u1", payload=1, task_id="w1"))
    held = q.pop()

    def report() -> None:
        with TaskQueue(config) as worker:
            for fraction in (0.25, 0.5):
                worker.run(control.progress(worker.parts, [(held, repr(fraction), "")]))
                time.sleep(0.05)
            note = control.check_progress(1.0, {"step": "save"})
            worker.run(control.progress(worker.parts, [(held, *note)]))
            worker.complete(held, {"saved": True})

    later(0.3, report)
    events = events_of(q, "w1")
    assert [e.progress for e in events[:-1]] == [0.25, 0.5, 1.0]
    assert events[2].note == {"step": "save"}
    assert events[-1].final and events[-1].info.result == {"saved": True}
    info = q.get_task("w1")
    assert info.progress == 1.0 and info.progress_note == {"step": "save"}


def test_progress_from_a_lost_lease_is_refused(make_queue):
    q = make_queue()
    q.push(Task.create("u1", payload=1, task_id="p"))
    held = q.pop()
    q.complete(held)
    assert q.run(control.progress(q.parts, [(held, "0.5", "")])) == ["stale"]
    assert q.get_task("p").progress is None


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), True, "half"])
def test_a_bad_progress_fraction_is_a_typed_error(bad):
    from fairque.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        control.check_progress(bad, {})


def test_keys_written_over_never_half_apply_a_cancel_or_an_end(make_queue, raw):
    q = make_queue()
    q.push(Task.create("u1", payload=1, task_id="k1"))
    q.push(Task.create("u2", payload=2, task_id="k2"))
    keys = q.session.keys
    raw.delete(keys.prio("u1", 3))
    raw.set(keys.prio("u1", 3), "not a list")  # u1's queue written over by something else
    raw.hset(keys.task("k2"), "w", "1")  # a producer waits on k2...
    raw.set(keys.key("events", task_id="k2"), "not a stream")  # ...and its stream is written over
    assert q.cancel("k1").outcome == CancelOutcome.CANCELED
    assert q.get_task("k1").state == TaskState.CANCELED
    held = q.pop()
    assert held is not None and held.task_id == "k2"
    assert q.complete(held, "done") == AckResult.OK  # its event could not be written: no matter
    assert q.get_task("k2").result == "done" and q.stats().counters["completed"] == 1
