"""The fairness promises of docs/fairness.md, checked on the real server."""

from __future__ import annotations

import threading
from collections import Counter

from fairque import Task
from tests.support.popping import pop_n

USERS = ["u0", "u1", "u2", "u3", "u4"]


def backlog(q, users, per_user, priority=3):
    q.push_batch([Task.create(u, priority, {"i": i}) for i in range(per_user) for u in users])


def test_every_window_of_k_times_m_dispatches_is_fair(make_queue):
    q = make_queue()
    k = len(USERS)
    # One user floods first: backlog order must not matter.
    backlog(q, ["u0"], 200)
    backlog(q, USERS[1:], 40)
    order = [t.user_id for t in pop_n(q, k * 40)]
    for m in (1, 2, 3, 7):
        size = k * m
        for start in range(len(order) - size + 1):
            counts = Counter(order[start : start + size])
            for user in USERS:
                assert m - 1 <= counts[user] <= m + 1, (m, start, counts)


def test_a_newly_active_user_is_served_within_k_dispatches(make_queue):
    q = make_queue()
    k = len(USERS)
    backlog(q, USERS, 30)
    pop_n(q, 7)  # in the middle of a round
    q.push(Task.create("newcomer", 3, "hi"))
    served = [t.user_id for t in pop_n(q, k + 1)]
    assert "newcomer" in served[:k], served


def test_idle_users_bank_no_credit(make_queue):
    q = make_queue()
    backlog(q, ["busy"], 100)
    pop_n(q, 50)  # "late" is idle all this time
    backlog(q, ["late"], 20)
    order = [t.user_id for t in pop_n(q, 20)]
    # Back in the round-robin as an equal, not paid back for the 50 turns it missed.
    assert 9 <= order.count("late") <= 11, order


def test_weights_3_2_1_shares_within_5_percent(make_queue, make_config):
    weights = {"a": 3, "b": 2, "c": 1}
    q = make_queue(make_config(queue={"users": {u: {"weight": w} for u, w in weights.items()}}))
    backlog(q, list(weights), 600)
    counts = Counter(t.user_id for t in pop_n(q, 600))
    total = sum(weights.values())
    for user, w in weights.items():
        expected = 600 * w / total
        assert abs(counts[user] - expected) / expected <= 0.05, counts


def test_round_robin_is_global_across_two_worker_instances(make_queue, make_config):
    workers = [
        {"id": "w1", "assigned_users": USERS, "steal_targets": []},
        {"id": "w2", "assigned_users": USERS, "steal_targets": []},
    ]
    config = make_config(workers=workers)
    q1, q2 = make_queue(config, "w1"), make_queue(config, "w2")
    backlog(q1, USERS, 40)
    popped: list[Task] = []
    lock = threading.Lock()

    def run(q):
        while (t := q.pop()) is not None:
            with lock:
                popped.append(t)
            q.complete(t)

    threads = [threading.Thread(target=run, args=(q,)) for q in (q1, q2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(popped) == 200
    by_worker = Counter(t.lease.worker_id for t in popped)
    assert set(by_worker) == {"w1", "w2"}, by_worker
    # Lease tokens are a server-side sequence: sorting by them gives the global dispatch order.
    order = [t.user_id for t in sorted(popped, key=lambda t: t.lease.sequence)]
    k = len(USERS)
    for start in range(len(order) - 2 * k + 1):
        counts = Counter(order[start : start + 2 * k])
        assert all(1 <= counts[u] <= 3 for u in USERS), (start, counts)
