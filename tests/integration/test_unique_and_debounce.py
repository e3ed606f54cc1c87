"""Unique and debounced tasks on a real server, per user: a unique key holds one queued or
running task (a second push answers the first's id) and is freed by that task's end,
whatever it is; a debounce keeps the last payload pushed in its window and runs it once, at
most ``max_wait`` after the window's first push."""

from __future__ import annotations

import time
from typing import Any

import pytest

from fairque import AckResult, Debounce, InvalidDependency, Task, TaskState


def test_a_unique_key_holds_one_task_until_it_ends(make_queue):
    q = make_queue()
    first = q.push(Task.create("u1", task_id="a", unique_key="sync-contacts"))
    again = q.push(Task.create("u1", task_id="b", unique_key="sync-contacts"))
    assert (again.task_id, again.created, again.state) == ("a", False, TaskState.READY)
    assert first.created and q.get_task("b") is None
    other_user = q.push(Task.create("u2", task_id="c", unique_key="sync-contacts"))
    assert other_user.created and other_user.task_id == "c"

    task = q.pop()
    assert task.task_id == "a"
    running = q.push(Task.create("u1", unique_key="sync-contacts"))
    assert (running.task_id, running.state) == ("a", TaskState.LEASED)  # running counts too
    assert q.complete(task) == AckResult.OK
    after = q.push(Task.create("u1", task_id="d", unique_key="sync-contacts"))
    assert after.created and after.task_id == "d"


@pytest.mark.parametrize("ending", ["dead", "canceled"])
def test_a_unique_key_is_freed_by_any_end(make_queue, ending):
    q = make_queue()
    q.push(Task.create("u1", task_id="a", unique_key="k"))
    if ending == "dead":
        assert q.fail(q.pop(), "boom", retry=False) == AckResult.DEAD
    else:
        q.cancel("a")
    assert q.push(Task.create("u1", task_id="b", unique_key="k")).created


def test_one_batch_keeps_one_task_per_unique_key(make_queue):
    q = make_queue()
    results = q.push_batch([Task.create("u1", task_id=f"t{i}", unique_key="k") for i in range(3)])
    assert [(r.task_id, r.created) for r in results] == [("t0", True), ("t0", False), ("t0", False)]
    assert q.stats().ready == 1


def test_debounce_keeps_the_last_payload_and_runs_it_once(make_queue):
    q = make_queue()
    window = Debounce("reindex", window=0.4, max_wait=5)
    ids = [q.push(Task.create("u1", payload={"n": i}, debounce=window)) for i in range(3)]
    assert [r.created for r in ids] == [True, False, False]
    assert len({r.task_id for r in ids}) == 1
    info = q.get_task(ids[0].task_id)
    assert info.state == TaskState.DELAYED and info.payload == {"n": 2}
    assert q.pop() is None  # the window is open
    task = _pop_within(q, 5)
    assert task.payload == {"n": 2}
    q.complete(task)
    assert _pop_within(q, 0.6) is None  # it ran once
    fresh = q.push(Task.create("u1", payload={"n": 3}, debounce=window))
    assert fresh.created and fresh.task_id != ids[0].task_id  # a new window


def test_debounce_runs_no_later_than_max_wait_after_the_first_push(make_queue):
    q = make_queue()
    first = q.push(Task.create("u1", payload=0, debounce=("k", 0.5, 0.8)))
    due_first = q.get_task(first.task_id).due_at
    time.sleep(0.45)
    q.push(Task.create("u1", payload=1, debounce=("k", 0.5, 0.8)))
    due_later = q.get_task(first.task_id).due_at
    # pushed at ~0.45 s: the window would close at ~0.95 s, max_wait caps it at 0.8 s
    moved = (due_later - due_first).total_seconds()
    assert 0.25 <= moved <= 0.31, moved


def test_bad_unique_and_debounce_arguments_are_refused(make_queue, nothing_written):
    q = make_queue()
    bad: list[dict[str, Any]] = [
        {"unique_key": "has space"},
        {"unique_key": ""},
        {"debounce": ("k", 0, 1)},
        {"debounce": ("k", 2, 1)},
        {"debounce": ("k", 1)},
        {"debounce": ("k", 1, 2), "after": "p"},
        {"debounce": ("k", 1, 2), "unique_key": "k"},
    ]
    for options in bad:
        with nothing_written(), pytest.raises(InvalidDependency):
            q.push(Task.create("u1", **options))


def _pop_within(q: Any, seconds: float) -> Task | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        task = q.pop()
        if task is not None:
            return task
        time.sleep(0.02)
    return None
