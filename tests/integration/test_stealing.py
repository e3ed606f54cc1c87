"""Work stealing: assigned users first, steal targets only when they are all empty."""

from __future__ import annotations

from fairque import Task


def push_each(q, users, n):
    q.push_batch([Task.create(u, 3, i) for i in range(n) for u in users])


def test_assigned_users_first_then_steal_targets(make_queue, make_config):
    config = make_config(
        workers=[
            {"id": "w1", "assigned_users": ["a", "b"], "steal_targets": ["c"]},
            {"id": "w2", "assigned_users": ["c", "d"]},
        ]
    )
    q = make_queue(config, "w1")
    push_each(q, ["a", "b", "c", "d"], 5)
    order = []
    while (t := q.pop()) is not None:
        order.append(t.user_id)
        q.complete(t)
    assert sorted(order[:10]) == ["a"] * 5 + ["b"] * 5
    assert order[10:] == ["c"] * 5  # stolen once a and b are empty; d is never touched
    assert q.stats().counters["stolen"] == 5
    w2 = make_queue(config, "w2")
    assert [w2.pop().user_id for _ in range(5)] == ["d"] * 5


def test_a_steal_target_waits_while_an_assigned_user_gets_new_work(make_queue, make_config):
    config = make_config(workers=[{"id": "w1", "assigned_users": ["a"], "steal_targets": ["c"]}])
    q = make_queue(config)
    push_each(q, ["c"], 3)
    for i in range(5):
        q.push(Task.create("a", 3, i))
        t = q.pop()
        assert t.user_id == "a"
        assert t.lease.worker_id == "w1"
        q.complete(t)
    assert q.pop().user_id == "c"


def test_star_steals_from_anyone(make_queue, make_config):
    config = make_config(
        workers=[
            {"id": "w1", "assigned_users": ["a"], "steal_targets": "*"},
            {"id": "w2", "assigned_users": ["b"]},
        ]
    )
    q = make_queue(config, "w1")
    push_each(q, ["b", "stranger"], 2)
    push_each(q, ["a"], 2)
    users = []
    while (t := q.pop()) is not None:
        users.append(t.user_id)
        q.complete(t)
    assert users[:2] == ["a", "a"]
    assert sorted(users[2:]) == ["b", "b", "stranger", "stranger"]


def test_a_worker_never_serves_users_outside_its_scope(make_queue, make_config):
    config = make_config(
        workers=[
            {"id": "w1", "assigned_users": ["a"]},
            {"id": "w2", "assigned_users": ["b"]},
        ]
    )
    q = make_queue(config, "w1")
    push_each(q, ["b", "stranger"], 3)
    assert q.pop() is None
    assert make_queue(config, "w2").pop().user_id == "b"
