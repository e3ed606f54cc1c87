"""Dependencies (``after``) and groups on a real server: a blocked task enters its user's queue
only when its parents have ended, in the script that ends the last one; a parent that dies or
is canceled cancels its dependents (transitively) unless they run on any end; wide fan-outs
are released in bounded slices, each dependent exactly once; nothing is left behind."""

from __future__ import annotations

from typing import Any

import pytest

from fairque import (
    AckResult,
    DependencyCycle,
    InvalidDependency,
    Task,
    TaskCanceled,
    TaskQueue,
    TaskState,
)
from fairque.core.exceptions import InvalidTaskId


def run_one(q: Any, result: Any = None, expect: str | None = None) -> Task:
    """Pop one task (``expect``: its id), complete it with ``result``."""
    task = q.pop()
    assert task is not None, "nothing ready"
    if expect is not None:
        assert task.task_id == expect
    assert q.complete(task, result) == AckResult.OK
    return task


def state(q: Any, task_id: str) -> Any:
    info = q.get_task(task_id)
    return info.state if info is not None else None


def test_a_child_waits_blocked_until_its_last_parent_completes(make_queue):
    q = make_queue()
    q.push(Task.create("u1", task_id="p1"))
    pushed = q.push(Task.create("u2", task_id="c", after=["p1", "p2"], payload={"step": 2}))
    assert (pushed.created, pushed.state) == (True, TaskState.BLOCKED)
    info = q.get_task("c")
    assert (info.parents, info.waiting_for, info.after_policy) == (("p1", "p2"), 2, "all_complete")
    q.push(Task.create("u1", task_id="p2"))  # a parent pushed after its child
    assert q.get_task("p1").dependents == ("c",)
    assert q.stats().ready == 2  # the child is not ready: no worker can take it

    run_one(q, {"out": 1}, expect="p1")
    assert state(q, "c") == TaskState.BLOCKED
    assert q.get_task("c").waiting_for == 1
    run_one(q, {"out": 2}, expect="p2")
    assert state(q, "c") == TaskState.READY  # released by the ack of its last parent
    child = q.pop()
    assert child.task_id == "c" and child.payload == {"step": 2}
    # the child reads what its parents produced
    parents = q.parents("c")
    assert [(p.task_id, p.result) for p in parents] == [("p1", {"out": 1}), ("p2", {"out": 2})]


def test_a_parent_that_dies_cancels_its_dependents_transitively(make_queue):
    q = make_queue()
    q.push(Task.create("u1", task_id="a"))
    q.push_batch([
        Task.create("u1", task_id="b", after="a"),
        Task.create("u1", task_id="c", after="b"),
        Task.create("u2", task_id="d", after="c"),
    ])  # fmt: skip
    task = q.pop()
    assert q.fail(task, "boom", retry=False) == AckResult.DEAD
    for tid, cause in (("b", "parent a dead"), ("c", "parent b canceled"), ("d", "parent c")):
        info = q.get_task(tid)
        assert info.state == TaskState.CANCELED, tid
        assert info.canceled_by.startswith(cause), info.canceled_by
    with pytest.raises(TaskCanceled):
        q.result("d", timeout=5)
    assert q.pop() is None
    assert q.stats().ready == 0


def test_any_end_children_run_whatever_their_parents_outcome(make_queue):
    q = make_queue()
    q.push_batch([Task.create("u1", task_id="ok"), Task.create("u1", task_id="bad")])
    q.push(Task.create("u2", task_id="cleanup", after=["ok", "bad"], after_policy="any_end"))
    run_one(q, "fine", expect="ok")
    assert q.fail(q.pop(), "broken", retry=False) == AckResult.DEAD
    assert state(q, "cleanup") == TaskState.READY
    outcomes = {p.task_id: p.state for p in q.parents("cleanup")}
    assert outcomes == {"ok": TaskState.COMPLETED, "bad": TaskState.DEAD}


def test_canceling_a_parent_or_a_blocked_task_cancels_what_waits_on_it(make_queue):
    q = make_queue()
    q.push(Task.create("u1", task_id="root"))
    q.push_batch([Task.create("u1", task_id="mid", after="root"),
                  Task.create("u1", task_id="leaf", after="mid")])  # fmt: skip
    assert q.cancel("mid").state == "blocked"
    assert state(q, "leaf") == TaskState.CANCELED
    assert state(q, "root") == TaskState.READY  # a parent is not touched by its child's end
    q.push(Task.create("u1", task_id="late", after="root"))
    q.cancel("root")
    assert state(q, "late") == TaskState.CANCELED


def test_parents_already_ended_at_push(make_queue):
    q = make_queue()
    q.push_batch([Task.create("u1", task_id="done"), Task.create("u1", task_id="gone")])
    run_one(q, expect="done")
    q.cancel("gone")
    assert q.push(Task.create("u1", task_id="x", after="done")).state == TaskState.READY
    doomed = q.push(Task.create("u1", task_id="y", after=["done", "gone"]))
    assert doomed.state == TaskState.CANCELED
    assert q.get_task("y").canceled_by == "parent gone canceled"
    anyway = q.push(Task.create("u1", task_id="z", after="gone", after_policy="any_end"))
    assert anyway.state == TaskState.READY


def test_a_cycle_is_refused_and_nothing_is_written(make_queue, nothing_written):
    q = make_queue()
    q.push(Task.create("u1", task_id="b", after="a"))  # a not pushed yet
    q.push(Task.create("u1", task_id="c", after="b"))
    with nothing_written(), pytest.raises(DependencyCycle) as err:
        q.push(Task.create("u1", task_id="a", after="c"))
    assert (err.value.task_id, err.value.parent) == ("a", "c")
    with nothing_written(), pytest.raises(InvalidDependency):
        q.push(Task.create("u1", task_id="s", after="s"))
    with nothing_written(), pytest.raises(InvalidTaskId):
        q.push(Task.create("u1", after=["not an id"]))
    with nothing_written(), pytest.raises(InvalidDependency):
        q.push(Task.create("u1", after="a", after_policy="sometimes"))  # type: ignore[arg-type]


def test_a_wide_fan_out_releases_every_child_once_across_bounded_calls(make_queue, raw, queue_name):
    q = make_queue()
    q.push(Task.create("heavy", task_id="root"))
    kids = [Task.create(f"u{i % 7}", task_id=f"k{i}", after="root") for i in range(1000)]
    q.push_batch(kids)
    assert q.get_task("root").dependents[:3] == ("k0", "k1", "k2")
    run_one(q, expect="root")
    # the ack released a bounded slice; pops release the rest, each child once
    seen: list[str] = []
    while (task := q.pop()) is not None:
        seen.append(task.task_id)
        q.complete(task)
    assert sorted(seen) == sorted(k.task_id for k in kids)
    assert q.stats().ready == 0
    prefix = f"fq:{{{queue_name}}}:"
    assert raw.hgetall(prefix + "blocked") == {}
    assert raw.llen(prefix + "deps:todo") == 0


def test_blocked_counts_are_kept_per_user(make_queue, raw, queue_name):
    q = make_queue()
    q.push(Task.create("u1", task_id="p"))
    q.push_batch([Task.create("u2", task_id=f"c{i}", after="p") for i in range(3)])
    prefix = f"fq:{{{queue_name}}}:"
    assert raw.hgetall(prefix + "blocked") == {"u2": "3", "*": "3"}
    q.cancel("c0")
    assert raw.hgetall(prefix + "blocked") == {"u2": "2", "*": "2"}
    run_one(q, expect="p")
    assert raw.hgetall(prefix + "blocked") == {}


def test_a_canceled_child_of_a_parent_never_pushed_leaves_no_keys(make_queue, raw, queue_name):
    q = make_queue()
    q.push(Task.create("u1", task_id="child", after="never"))
    prefix = f"fq:{{{queue_name}}}:"
    assert raw.exists(prefix + "kids:never") == 1
    assert raw.hget(prefix + "deps:early", "never") == "1"
    q.cancel("child")
    assert raw.exists(prefix + "kids:never") == 0
    assert raw.hlen(prefix + "deps:early") == 0


def test_a_finished_dag_leaves_no_dependency_keys_once_results_expire(make_queue, make_config, raw,
                                                                     queue_name):  # fmt: skip
    import time

    q = make_queue(make_config(queue={"result_ttl": 0.3}))
    q.push(Task.create("u1", task_id="r"))
    q.push_batch([Task.create("u1", task_id=f"m{i}", after="r") for i in range(10)])
    q.push(Task.create("u1", task_id="join", after=[f"m{i}" for i in range(10)]))
    while (task := q.pop()) is not None:
        q.complete(task, 1)
    assert state(q, "join") == TaskState.COMPLETED
    prefix = f"fq:{{{queue_name}}}:"
    deadline = time.monotonic() + 10
    kinds = ("kids", "deps", "task", "blocked", "ev")
    left: list[str] = ["?"]
    while left and time.monotonic() < deadline:
        keys = raw.scan_iter(prefix + "*", count=1000)
        left = [k for k in keys if k.split(":", 2)[2].split(":")[0] in kinds]
        time.sleep(0.05)
    assert left == []


def test_a_group_runs_its_callback_once_after_every_member_ended(make_queue):
    q = make_queue()
    members = [Task.create(f"u{i}", task_id=f"g{i}", payload=i) for i in range(4)]
    group = q.group(members, then=Task.create("u9", task_id="chord", handler="sum"))
    assert group.progress().total == 4 and not group.progress().done
    assert state(q, "chord") == TaskState.BLOCKED
    for _ in range(3):
        task = q.pop()
        q.complete(task, task.payload * 10)
    task = q.pop()
    q.fail(task, "no", retry=False)  # one member dies: the callback still runs
    progress = group.progress()
    assert (progress.completed, progress.dead, progress.done) == (3, 1, True)
    callback = q.pop()
    assert callback.task_id == "chord"
    outcomes = q.parents("chord")
    assert sorted(o.state for o in outcomes) == ["completed"] * 3 + ["dead"]
    infos = group.wait(timeout=5)
    assert [i.task_id for i in infos] == ["g0", "g1", "g2", "g3"]


def test_group_result_and_cancel(make_queue):
    q = make_queue()
    group = q.group([Task.create("u1", task_id=f"r{i}", payload=i) for i in range(3)])
    while (task := q.pop()) is not None:
        q.complete(task, task.payload + 100)
    assert group.result(timeout=5) == [100, 101, 102]
    other = q.group([Task.create("u1", task_id=f"x{i}") for i in range(2)],
                    then=Task.create("u1", task_id="x-then"))  # fmt: skip
    canceled = other.cancel()
    assert [c.task_id for c in canceled] == ["x0", "x1", "x-then"]
    assert state(q, "x-then") == TaskState.CANCELED
    with pytest.raises(TaskCanceled):
        other.result(timeout=5)


def test_metrics_count_blocked_and_released_tasks(make_config):
    from prometheus_client.parser import text_string_to_metric_families

    from fairque.monitoring import Inspector
    from fairque.monitoring.metrics import dump

    config = make_config()
    with TaskQueue(config) as q:
        q.push(Task.create("u1", task_id="p"))
        q.push_batch([Task.create("u2", after="p") for _ in range(3)])
        with Inspector(config) as ins:
            before = _samples(dump(ins), text_string_to_metric_families)
        run_one(q, expect="p")
        with Inspector(config) as ins:
            after = _samples(dump(ins), text_string_to_metric_families)
    assert before[("fairque_queue_tasks", "blocked")] == 3
    assert after[("fairque_queue_tasks", "blocked")] == 0
    assert after[("fairque_tasks_total", "released")] == 3


def _samples(text: str, parse: Any) -> dict[tuple[str, str], float]:
    out = {}
    for family in parse(text):
        for s in family.samples:
            out[(s.name, s.labels.get("state") or s.labels.get("event") or "")] = s.value
    return out
