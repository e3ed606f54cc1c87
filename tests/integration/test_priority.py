"""Priority inside one user: CRITICAL FIFO first, then 5..1, FIFO within a priority, aging."""

from __future__ import annotations

import time

from fairque import Priority, Task


def drain(q: object) -> list[Task]:
    out = []
    while (t := q.pop()) is not None:  # type: ignore[attr-defined]
        out.append(t)
        q.complete(t)  # type: ignore[attr-defined]
    return out


def test_priorities_pop_highest_first(make_queue):
    q = make_queue()
    for p in [1, 5, 3, 6, 2]:
        q.push(Task.create("u1", p, {"p": p}))
    assert [t.priority for t in drain(q)] == [6, 5, 3, 2, 1]


def test_fifo_within_a_priority(make_queue):
    q = make_queue()
    q.push_batch([Task.create("u1", Priority.NORMAL, i) for i in range(50)])
    for i in range(50, 60):
        q.push(Task.create("u1", Priority.NORMAL, i))
    assert [t.payload for t in drain(q)] == list(range(60))


def test_critical_is_fifo_and_first(make_queue):
    q = make_queue()
    q.push(Task.create("u1", Priority.VERY_HIGH, "high"))
    for i in range(5):
        q.push(Task.create("u1", Priority.CRITICAL, f"c{i}"))
    assert [t.payload for t in drain(q)] == ["c0", "c1", "c2", "c3", "c4", "high"]


def test_aging_lets_an_old_low_priority_task_overtake(make_queue, make_config):
    # aging 0.05 s: a priority-1 task counts as 0.05 s older, a priority-5 task as 0.25 s.
    q = make_queue(make_config(queue={"aging_seconds": 0.05}))
    q.push(Task.create("u1", Priority.VERY_LOW, "old"))
    time.sleep(0.3)  # older than the 0.2 s head start priority 5 has over priority 1
    q.push(Task.create("u1", Priority.VERY_HIGH, "new"))
    assert [t.payload for t in drain(q)] == ["old", "new"]


def test_without_aging_time_higher_priority_wins(make_queue, make_config):
    q = make_queue(make_config(queue={"aging_seconds": 60}))
    q.push(Task.create("u1", Priority.VERY_LOW, "old"))
    time.sleep(0.3)
    q.push(Task.create("u1", Priority.VERY_HIGH, "new"))
    assert [t.payload for t in drain(q)] == ["new", "old"]
