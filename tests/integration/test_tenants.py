"""Tenants above users: fair between tenants first (by tenant weight), then between the users
of a tenant (by user weight), with every other scheduling rule still holding inside."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fairque import Task, TenantMismatch
from fairque.core.exceptions import InvalidTenantId
from fairque.monitoring import Admin, Inspector
from fairque.monitoring.metrics import dump
from fairque.queue.partitions import partition_of
from tests.support.popping import pop_n


def push(q, user, n, tenant=None, priority=3):
    q.push_batch([Task.create(user, priority, {"i": i}, tenant=tenant) for i in range(n)])


def test_a_tenant_spread_over_many_user_ids_gets_one_tenant_share(make_queue):
    """The sybil case: 20 user ids of one tenant against 4 tenant-less users."""
    q = make_queue()
    for i in range(20):
        push(q, f"acme-{i}", 30, tenant="acme")
    for u in ("solo-1", "solo-2", "solo-3", "solo-4"):
        push(q, u, 60)
    order = [t.user_id for t in pop_n(q, 200)]
    acme = sum(1 for u in order if u.startswith("acme-"))
    assert 38 <= acme <= 42, acme  # 1/5 of 200: acme is one of five at the top level
    # ... and inside acme its users take turns: each of the 20 got 2.
    per_user = Counter(u for u in order if u.startswith("acme-"))
    assert set(per_user.values()) <= {1, 2, 3}, per_user
    # Every window of 5 dispatches holds exactly one of acme's.
    for start in range(0, 200 - 5, 5):
        window = order[start : start + 5]
        assert sum(1 for u in window if u.startswith("acme-")) == 1, (start, window)


def test_the_same_workload_without_tenants_lets_the_splitter_take_most(make_queue):
    """The control of the test above: without a tenant, 20 ids are 20 shares."""
    q = make_queue()
    for i in range(20):
        push(q, f"acme-{i}", 30)
    for u in ("solo-1", "solo-2", "solo-3", "solo-4"):
        push(q, u, 60)
    order = [t.user_id for t in pop_n(q, 240)]
    acme = sum(1 for u in order if u.startswith("acme-"))
    assert acme >= 190, acme  # 20 of 24 shares


def test_tenant_weights_then_user_weights(make_queue, make_config):
    config = make_config(
        queue={
            "tenants": {"big": {"weight": 3}},
            "users": {"b1": {"weight": 2}},
        }
    )
    q = make_queue(config)
    push(q, "b1", 300, tenant="big")
    push(q, "b2", 300, tenant="big")
    push(q, "s1", 300, tenant="small")
    push(q, "s2", 300, tenant="small")
    counts = Counter(t.user_id for t in pop_n(q, 400))
    big = counts["b1"] + counts["b2"]
    assert 297 <= big <= 303, counts  # tenant weights 3:1
    assert 198 <= counts["b1"] <= 202, counts  # user weights 2:1 inside "big"
    assert 49 <= counts["s1"] <= 51, counts


def test_a_new_user_of_a_busy_tenant_does_not_get_extra_turns(make_queue):
    """New ids enter inside their tenant: a tenant minting a fresh user id per task still
    gets only its tenant's share."""
    q = make_queue()
    push(q, "other", 200)
    for i in range(100):
        push(q, f"fresh-{i}", 1, tenant="minter")
    order = [t.user_id for t in pop_n(q, 100)]
    assert 49 <= order.count("other") <= 51, Counter(order)


def test_priorities_and_critical_first_inside_a_tenants_user(make_queue):
    q = make_queue()
    push(q, "u", 3, tenant="t", priority=1)
    push(q, "u", 2, tenant="t", priority=6)
    push(q, "u", 2, tenant="t", priority=4)
    got = [t.priority for t in pop_n(q, 7)]
    assert got == [6, 6, 4, 4, 1, 1, 1]


def test_a_paused_user_gives_its_tenants_turns_to_the_tenants_other_users(make_queue, make_config):
    config = make_config()
    q = make_queue(config)
    push(q, "t-a", 50, tenant="t")
    push(q, "t-b", 50, tenant="t")
    push(q, "solo", 100)
    with Admin(config) as admin:
        admin.pause("t-a")
        counts = Counter(t.user_id for t in pop_n(q, 40))
        assert counts == {"t-b": 20, "solo": 20}, counts
        admin.resume("t-a")
    counts = Counter(t.user_id for t in pop_n(q, 40))
    assert counts["solo"] == 20 and counts["t-a"] >= 9 and counts["t-b"] >= 9, counts


def test_a_capped_user_leaves_its_tenants_turns_to_the_others(make_queue, make_config):
    q = make_queue(make_config(queue={"users": {"t-a": {"max_inflight": 1}}}))
    push(q, "t-a", 20, tenant="t")
    push(q, "t-b", 20, tenant="t")
    push(q, "solo", 20)
    held = pop_n(q, 12, complete=False)
    counts = Counter(t.user_id for t in held)
    assert counts == {"t-a": 1, "t-b": 5, "solo": 6}, counts
    for t in held:
        q.complete(t)


def test_a_boost_raises_a_user_within_its_tenant_only(make_queue, make_config):
    config = make_config()
    q = make_queue(config)
    push(q, "t-a", 200, tenant="t")
    push(q, "t-b", 200, tenant="t")
    push(q, "solo", 200)
    with Admin(config) as admin:
        admin.boost("t-a", 3, 600)
    counts = Counter(t.user_id for t in pop_n(q, 160))
    assert 79 <= counts["solo"] <= 81, counts  # the tenant's share is unchanged
    assert 59 <= counts["t-a"] <= 61, counts  # 3:1 inside the tenant


def test_a_user_belongs_to_one_tenant_while_it_has_work(make_queue, nothing_written):
    q = make_queue()
    push(q, "u", 2, tenant="a")
    with nothing_written(), pytest.raises(TenantMismatch) as caught:
        q.push(Task.create("u", 3, "x", tenant="b"))
    assert caught.value.tenant == "a" and caught.value.user_id == "u"
    # A task without a tenant joins the user's tenant.
    push(q, "u", 1)
    tasks = pop_n(q, 3)
    assert {t.user_id for t in tasks} == {"u"}
    # With nothing queued or in flight, the user may join another tenant.
    q.push(Task.create("u", 3, "y", tenant="b"))
    with Inspector(q.config) as ins:
        assert ins.user("u", 0, 10).row.tenant == "b"


def test_bad_tenant_ids_are_refused_before_anything_is_sent():
    for bad in ("", "has space", "x" * 200, "+plus", 7):
        with pytest.raises(InvalidTenantId):
            Task.create("u", 3, "x", tenant=bad)  # type: ignore[arg-type]


def test_inspector_and_explain_show_the_tenant(make_queue, make_config):
    config = make_config(queue={"tenants": {"acme": {"weight": 2}}})
    q = make_queue(config)
    push(q, "u1", 3, tenant="acme")
    push(q, "v", 3)
    pop_n(q, 2)
    waiting = Task.create("u1", 3, "later", tenant="acme")
    q.push(waiting)
    with Inspector(config) as ins:
        ex = ins.explain(waiting.task_id)
        assert ex is not None
        assert ex.tenant == "acme" and ex.tenant_pass is not None
        assert ex.charge == 1 and ex.charge_basis == "turn"
        assert ins.overview().totals.active_users == 2  # users, not round-robin entries
        state = ins.config_state()
        assert state.settings is not None and state.settings.tenants == {"acme": 2.0}
    assert q.stats().active_users == 2


def test_partitions_keep_tenants_fair_inside_each_partition(make_queue, make_config):
    """A partition keeps its own round-robin, so a tenant is one entry per partition its users
    hash to: 2 shares here (of 4 entries), where its 12 user ids alone would take 12 of 14."""
    q = make_queue(make_config(queue={"partitions": 2}))
    acme = [f"acme-{i}" for i in range(12)]
    solos = ["solo-1", "solo-2"]
    for u in acme:
        push(q, u, 40, tenant="acme")
    for u in solos:
        push(q, u, 300)
    entries = {partition_of(u, 2) for u in acme}
    assert entries == {0, 1}  # the ids spread over both partitions
    counts = Counter(t.user_id for t in pop_n(q, 300))
    got = sum(n for u, n in counts.items() if u.startswith("acme-"))
    expected = 300 * len(entries) / (len(entries) + len(solos))
    assert abs(got - expected) <= 0.1 * expected, counts


def test_metrics_show_each_users_tenant_and_mean_run_time(make_queue, make_config):
    config = make_config(queue={"fairness": "time"})
    q = make_queue(config)
    push(q, "u1", 3, tenant="acme")
    pop_n(q, 1)
    with Inspector(config) as ins:
        text = dump(ins)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    name = config.queue.name
    assert samples[("fairque_user_tenant", (("queue", name), ("tenant", "acme"), ("user", "u1")))]
    run = samples[("fairque_user_mean_run_seconds", (("queue", name), ("user", "u1")))]
    assert 0 <= run < 5


def test_assigned_users_of_a_tenant_first_then_stolen_work_still_fair(make_queue, make_config):
    """A worker assigned some of a tenant's users serves them first; as a stealer it serves
    the rest fairly by tenant. The tenant has an entry in each pool its users are in."""
    config = make_config(workers=[{"id": "w1", "assigned_users": ["acme-0"], "steal_targets": "*"}])
    q = make_queue(config, "w1")
    for i in range(4):
        push(q, f"acme-{i}", 30, tenant="acme")
    push(q, "solo", 60)
    first = [t.user_id for t in pop_n(q, 30)]
    assert first == ["acme-0"] * 30  # its own user, until empty
    rest = Counter(t.user_id for t in pop_n(q, 60))
    acme = sum(n for u, n in rest.items() if u.startswith("acme-"))
    assert 29 <= acme <= 31, rest  # then acme (one tenant) and solo take turns
    assert rest["solo"] == 60 - acme


def test_a_users_pass_moves_with_it_when_a_worker_claims_it(make_queue, make_config):
    """Routing moves a user between pools (here: a worker starts assigning it); under a
    tenant the user and its tenant follow, and nothing is lost or served twice."""
    q = make_queue()
    push(q, "acme-0", 20, tenant="acme")
    push(q, "acme-1", 20, tenant="acme")
    push(q, "solo", 20)
    early = pop_n(q, 6)
    config = make_config(workers=[{"id": "w1", "assigned_users": ["acme-0"], "steal_targets": "*"}])
    w1 = make_queue(config, "w1")
    later = pop_n(w1, 54)
    seen = [t.task_id for t in early + later]
    assert len(set(seen)) == 60
    assert w1.pop() is None


def test_aging_inside_a_tenants_user_by_time(make_queue, make_config):
    """Aging orders a user's own tasks whatever the fairness mode and level: an old
    low-priority task overtakes a newer high-priority one once it has waited long enough."""
    q = make_queue(make_config(queue={"fairness": "time", "aging_seconds": 0.05}))
    push(q, "u", 1, tenant="t", priority=1)
    time.sleep(0.5)  # far more than (5 - 1) * aging_seconds
    push(q, "u", 1, tenant="t", priority=5)
    assert [t.priority for t in pop_n(q, 2)] == [1, 5]
