"""The Inspector's tenants view: each tenant's users, backlog, tasks in flight, weight, rate
limit and throttled state, and its served share against its fair share (water-filling over
the tenants and the tenant-less users, by weight); one tenant's users and running tasks."""

from __future__ import annotations

from fairque import Task
from fairque.monitoring import Inspector
from tests.support.popping import pop_n


def push(q, user, n, tenant=None):
    q.push_batch([Task.create(user, 3, {"i": i}, tenant=tenant) for i in range(n)])


def by_tenant(rows):
    return {r.tenant: r for r in rows}


def test_each_tenant_is_one_row_with_its_users_backlog_and_in_flight(make_queue, make_config,
                                                                     monitor):  # fmt: skip
    q = make_queue(make_config(queue={"tenants": {"acme": {"weight": 3}}}))
    for i in range(3):
        push(q, f"acme-{i}", 10, tenant="acme")
    push(q, "beta-0", 10, tenant="beta")
    push(q, "solo", 10)
    held = pop_n(q, 10, complete=False)  # acme 6 (weight 3 of 5), beta 2, solo 2
    ins = monitor(Inspector, q.config)
    rows = by_tenant(ins.tenants())
    assert set(rows) == {"acme", "beta"}  # solo has no tenant: it is no row
    acme, beta = rows["acme"], rows["beta"]
    assert (acme.users, acme.active_users, acme.weight) == (3, 3, 3.0)
    assert (beta.users, beta.weight) == (1, 1.0)
    served = {t: sum(1 for h in held if h.user_id.startswith(t)) for t in ("acme", "beta")}
    assert acme.inflight == served["acme"] == 6 and beta.inflight == served["beta"] == 2
    assert acme.ready == 30 - 6 and beta.ready == 10 - 2
    assert acme.served_5m == 6 and acme.served_share == 0.6 and beta.served_share == 0.2
    # Everyone still wants more than its part: the fair shares are the weights' shares.
    assert acme.fair_share == 0.6 and beta.fair_share == 0.2
    assert acme.in_round_robin and beta.in_round_robin
    assert [r.tenant for r in ins.tenants()] == ["acme", "beta"]  # the most backlogged first


def test_a_tenant_that_asked_for_less_leaves_its_part_to_the_others(make_queue, monitor):
    q = make_queue()
    push(q, "small-0", 2, tenant="small")
    push(q, "big-0", 40, tenant="big")
    push(q, "solo", 40)
    for t in pop_n(q, 20):
        q.complete(t)
    rows = by_tenant(monitor(Inspector, q.config).tenants())
    # small wanted 2 of 20: it gets them; big and solo split the other 18.
    assert rows["small"].fair_share == 0.1 and rows["big"].fair_share == 0.45
    assert rows["small"].served_share == 0.1 and rows["small"].ready == 0
    assert not rows["small"].in_round_robin


def test_a_rate_limited_tenant_shows_its_limit_tokens_and_when_it_is_back(
    make_queue, make_config, monitor
):
    q = make_queue(make_config(queue={"tenants": {"slow": {"rate": "1/h", "burst": 2}}}))
    push(q, "s-0", 3, tenant="slow")
    pop_n(q, 2)
    assert q.pop() is None  # its burst spent: throttled for an hour
    row = by_tenant(monitor(Inspector, q.config).tenants())["slow"]
    assert (row.rate, row.burst, row.tokens) == ("1/h", 2, 0)
    assert row.throttled_until is not None and not row.in_round_robin and row.ready == 1


def test_one_tenant_lists_its_users_most_backlogged_first_and_their_running_tasks(
    make_queue, monitor
):
    q = make_queue()
    push(q, "a-small", 2, tenant="acme")
    push(q, "a-big", 9, tenant="acme")
    push(q, "other", 5, tenant="beta")
    running = q.pop()
    ins = monitor(Inspector, q.config)
    detail = ins.tenant("acme")
    assert [u.user_id for u in detail.users] == ["a-big", "a-small"]
    assert all(u.tenant == "acme" for u in detail.users) and detail.total_users == 2
    mine = [t.task_id for t in detail.running]
    assert mine == ([running.task_id] if running.user_id.startswith("a-") else [])
    assert ins.tenant("acme", limit=1).users[0].user_id == "a-big"
    assert ins.tenant("nobody") is None
