"""Who serves whom comes from live worker registrations; user settings are seeded once and
changed only by `config apply`. Every process here has its own config (no shared file)."""

from __future__ import annotations

from collections import Counter

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.monitoring import Admin, Inspector
from fairque.queue import ops


def push_each(q, users, n):
    q.push_batch([Task.create(u, 3, i) for i in range(n) for u in users])


def worker_config(make_config, wid, assigned=(), steal=(), steal_after=0.2, **queue):
    entry = {
        "id": wid,
        "assigned_users": list(assigned),
        "steal_targets": steal,
        "steal_after": steal_after,
    }
    return make_config(workers=[entry], queue=queue)


def test_a_worker_registers_on_its_first_pop_and_takes_its_waiting_users(make_queue, make_config):
    producer = make_queue()  # knows nothing about workers
    push_each(producer, ["a", "b"], 3)
    worker = make_queue(worker_config(make_config, "w1", ["a"]))
    assert [worker.pop().user_id for _ in range(3)] == ["a", "a", "a"]
    assert worker.pop() is None  # "b" is in nobody's scope but the catch-all poppers'
    assert producer.pop().user_id == "b"


def test_workers_with_their_own_configs_do_not_overwrite_each_other(make_queue, make_config):
    wa = make_queue(worker_config(make_config, "wa", ["a"]))
    wb = make_queue(worker_config(make_config, "wb", ["b"]))
    star = make_queue(worker_config(make_config, "ws", steal="*", steal_after=0))
    push_each(wa, ["a", "b", "c"], 4)
    for _ in range(3):  # each opening and popping in turn: the last to register wins nothing
        assert wa.pop().user_id == "a"
        assert wb.pop().user_id == "b"
    got = Counter(t.user_id for t in iter(star.pop, None))
    assert got == {"a": 1, "b": 1, "c": 4}  # '*' takes every user, whoever configured it
    state = Inspector(make_config()).config_state()
    routes = {r.worker_id: (r.assigned_users, r.steal_targets) for r in state.routes}
    assert routes == {"wa": (["a"], []), "wb": (["b"], []), "ws": ([], "*")}


def test_a_producer_reopening_changes_nothing(make_config, make_queue, raw, nothing_written):
    worker = make_queue(worker_config(make_config, "w1", ["a"], users={"a": {"weight": 3}}))
    push_each(worker, ["a"], 2)
    worker.pop()
    producer_config = FairQueueConfig.create_default(
        "worker-1",
        assigned_users=["a"],
        steal_targets="*",
        redis_url=make_config().redis.url,
        queue_name=make_config().queue.name,
        users={"a": {"weight": 5}},
    )
    with nothing_written():
        for _ in range(20):
            with TaskQueue(producer_config) as q:
                q.stats()


def test_the_first_settings_stay_in_force_and_a_difference_is_a_conflict(make_queue, make_config):
    first = make_queue(worker_config(make_config, "w1", ["a"], users={"a": {"weight": 3}}))
    push_each(first, ["a", "z"], 1)
    first.pop()
    other = worker_config(make_config, "w2", ["b"], users={"a": {"weight": 5}}, default_weight=2)
    for _ in range(3):  # reopening the other config changes nothing in force
        q = make_queue(other)
        got = q.run(ops.register(q.session))
        assert got.status == "conflict" and got.writer == "w1"
        assert "a.weight: 5 here, 3 in force" in got.differences
    with Inspector(make_config()) as ins:
        state = ins.config_state()
        assert state.settings is not None and state.settings.users["a"].weight == 3
        assert state.written_by == "w1" and state.written_how == "seed"
        [conflict] = state.conflicts
        assert conflict.worker_id == "w2"
        assert conflict.differences == [
            "default_weight: 2 here, 1 in force",
            "a.weight: 5 here, 3 in force",
        ]
        alerts = [a for a in ins.alerts() if a.rule == "config_conflict"]
        assert [a.subject for a in alerts] == ["w2"] and "written by w1 (seed)" in alerts[0].message
        assert ins.users(limit=10).rows  # the queue reads as before
    with Admin(make_config()) as admin:
        dry = admin.apply_settings(other, dry_run=True)
        assert dry.detail["differences"] and dry.touched == 0
        done = admin.apply_settings(other)
        assert done.touched == 1
        assert admin.apply_settings(other).detail["differences"] == []  # already in force
    with Inspector(make_config()) as ins:
        state = ins.config_state()
        assert state.settings.default_weight == 2 and state.written_how == "apply"
        assert [c.worker_id for c in state.conflicts] == ["w1"]  # now w1's file is the odd one
        assert [e.action for e in ins.audit()][:1] == ["config_apply"]


def test_weights_in_force_decide_the_shares(make_queue, make_config):
    q = make_queue(make_config(queue={"default_weight": 2, "users": {"slow": {"weight": 1}}}))
    push_each(q, ["slow", "stranger"], 200)
    counts = Counter(q.pop().user_id for _ in range(150))  # the first pop seeds the settings
    assert counts == {"stranger": 100, "slow": 50}


def test_a_stale_registration_drops_out_and_its_users_go_to_the_stealers(
    make_queue, make_config, raw
):
    wa = make_queue(worker_config(make_config, "wa", ["a"]))
    star = make_queue(worker_config(make_config, "ws", steal="*", steal_after=0))
    push_each(wa, ["a"], 4)
    assert wa.pop().user_id == "a"
    assert star.pop() is not None  # '*' steals a, since wa's home is not star's home
    reg = wa.session.keys.key("reg")
    raw.zadd(reg, {"wa": 1})  # wa stopped beating long ago
    star.run(ops.register(star.session))  # any registration or beat expires stale ones
    assert raw.hget(wa.session.keys.key("routes"), "wa") is None
    assert raw.hget(wa.session.keys.key("upool"), "a") is None  # back in the shared pool
    assert star.pop().user_id == "a"
    assert wa.pop().user_id == "a"  # wa comes back: pop says register, it registers, pops
    assert raw.hget(wa.session.keys.key("routes"), "wa") is not None


def test_a_read_only_session_writes_nothing(make_config, make_queue, nothing_written):
    worker = make_queue(worker_config(make_config, "w1", ["a"], users={"a": {"weight": 3}}))
    push_each(worker, ["a"], 2)
    worker.pop()
    reader_config = worker_config(make_config, "w9", ["x"], users={"a": {"weight": 7}})
    with nothing_written(), Inspector(reader_config) as ins:
        ins.overview()
        ins.users()
        ins.workers()
        ins.config_state()
        ins.alerts()


def test_a_stealer_leaves_fresh_work_to_the_users_own_worker(make_queue, make_config):
    import time

    wa = make_queue(worker_config(make_config, "wa", ["a"]))
    patient = make_queue(worker_config(make_config, "wp", steal="*", steal_after=3600))
    quick = make_queue(worker_config(make_config, "wq", steal="*", steal_after=0.05))
    assert wa.pop() is None  # wa registers: a now has a worker of its own
    push_each(wa, ["a"], 3)
    assert patient.pop() is None  # a's work is fresh: a's own worker gets the first chance
    time.sleep(0.06)
    assert quick.pop().user_id == "a"  # waited long enough: a's worker is busy or gone
    assert wa.pop().user_id == "a"
