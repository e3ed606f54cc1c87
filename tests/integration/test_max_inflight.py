"""Per-user max_inflight: a capped user is skipped, others keep flowing, it comes back."""

from __future__ import annotations

from typing import Any

from fairque import Task


def test_capped_user_is_skipped_and_returns_after_a_completion(make_queue, make_config):
    q = make_queue(make_config(queue={"users": {"capped": {"max_inflight": 2}}}))
    q.push_batch([Task.create(u, 3, i) for i in range(10) for u in ("capped", "free")])
    held = [q.pop() for _ in range(6)]
    users = [t.user_id for t in held]
    assert users.count("capped") == 2
    assert users.count("free") == 4
    assert q.stats().active_users == 1  # the capped user left the round-robin
    first_capped = next(t for t in held if t.user_id == "capped")
    q.complete(first_capped)
    assert q.pop().user_id == "capped"  # served again at once
    assert q.pop().user_id == "free"  # at its cap again: only "free" flows


def test_cap_slot_is_freed_by_fail_too(make_queue, make_config):
    q = make_queue(make_config(queue={"users": {"capped": {"max_inflight": 1}}}))
    q.push_batch([Task.create("capped", 3, i) for i in range(3)])
    t = q.pop()
    assert q.pop() is None
    q.fail(t, "boom", retry=False)
    assert q.pop().user_id == "capped"


def _hget_calls(raw: Any) -> int:
    """HGET calls the server (every node of a cluster) has run so far."""
    nodes = raw.get_nodes() if hasattr(raw, "get_nodes") else [None]
    stats = [raw.info("commandstats", **({"target_nodes": n} if n else {})) for n in nodes]
    return sum(int(s.get("cmdstat_hget", {}).get("calls", 0)) for s in stats)


def test_acks_read_no_user_settings_when_no_user_can_have_a_cap(make_queue, make_config, raw):
    """Caps come only with settings written from a configuration: a queue whose settings
    were never written, or were written without caps, acks without reading each user's."""
    for config in (make_config(), make_config(queue={"users": {"heavy": {"weight": 3}}})):
        q = make_queue(config)
        if config.queue.users:
            q.pop()  # a consumer with user settings offers them: they are written now
            assert raw.hget(q.session.keys.key("settings"), "#nocaps") == "1"
        q.push_batch([Task.create(u, 3, i) for i in range(4) for u in ("heavy", "light")])
        held = q.pop_many(4)
        before = _hget_calls(raw)
        assert all(r.name == "OK" for r in q.complete_many([(t, None) for t in held]))
        assert _hget_calls(raw) == before  # no HGET of a user's settings entry


def test_acking_a_capped_users_tasks_in_one_call_frees_every_slot(make_queue, make_config, raw):
    """One ack call counts a user's freed slots together: all of them are free after it, the
    user is back in the round-robin, and one with nothing left in flight has no count."""
    q = make_queue(make_config(queue={"users": {"capped": {"max_inflight": 2}}}))
    q.push_batch([Task.create("capped", 3, i) for i in range(5)])
    q.push(Task.create("once", 3, 0))
    first = q.pop_many(10)
    assert sorted(t.user_id for t in first) == ["capped", "capped", "once"]
    assert q.pop_many(10) == []  # at its cap, and nobody else has work
    assert all(r.name == "OK" for r in q.complete_many([(t, None) for t in first]))
    assert raw.hget(q.session.keys.key("uinflight"), "once") is None
    assert [t.user_id for t in q.pop_many(10)] == ["capped", "capped"]
    assert raw.hget(q.session.keys.key("uinflight"), "capped") == "2"
