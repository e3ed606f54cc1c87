"""The users' configuration mirrored into the queue: producers need no worker config."""

from __future__ import annotations

from collections import Counter

from fairque import Task


def test_a_config_change_moves_waiting_users_to_their_new_pool(make_queue, make_config):
    producer = make_queue()  # knows nothing about workers
    producer.push_batch([Task.create(u, 3, i) for i in range(3) for u in ("a", "b")])
    config = make_config(workers=[{"id": "w1", "assigned_users": ["a"]}])
    worker = make_queue(config)  # opening it mirrors the config and moves "a"
    got = [worker.pop().user_id for _ in range(3)]
    assert got == ["a", "a", "a"]
    assert worker.pop() is None  # "b" is in nobody's scope but the catch-all poppers'
    assert producer.pop().user_id == "b"


def test_default_weight_applies_to_unconfigured_users(make_queue, make_config):
    q = make_queue(make_config(queue={"default_weight": 2, "users": {"slow": {"weight": 1}}}))
    q.push_batch([Task.create(u, 3, i) for i in range(200) for u in ("slow", "stranger")])
    counts = Counter(q.pop().user_id for _ in range(150))
    assert counts == {"stranger": 100, "slow": 50}


def test_reopening_with_the_same_config_is_a_no_op(make_queue, make_config, raw):
    config = make_config(queue={"users": {"a": {"weight": 2}}})
    q0 = make_queue(config)
    key = q0.session.keys.meta
    fp = raw.hget(key, "cfg_fp")
    from fairque.queue import ops

    q = make_queue(config)
    assert q.run(ops.sync_config(q.session)) is False
    assert raw.hget(key, "cfg_fp") == fp
