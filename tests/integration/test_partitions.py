"""Partitioned queues ({name#k}): routing by user, rotation across partitions, acks, reads,
workers, Inspector and Admin all see one queue. Runs on a single server and on the cluster."""

from __future__ import annotations

from collections import Counter

import pytest

from fairque import Task, TaskQueue
from fairque.core.exceptions import ConfigError, InvalidDependency
from fairque.monitoring import Admin, Inspector
from fairque.queue.partitions import QUANTUM, partition_of
from tests.support.harness import Harness
from tests.support.waiting import wait_for

P = 3


def users_in_every_partition(n_per: int = 1) -> list[str]:
    """User ids covering each partition ``n_per`` times (the hash decides where they go)."""
    found: dict[int, list[str]] = {k: [] for k in range(P)}
    i = 0
    while any(len(v) < n_per for v in found.values()):
        u = f"user-{i}"
        k = partition_of(u, P)
        if len(found[k]) < n_per:
            found[k].append(u)
        i += 1
    return [u for k in range(P) for u in found[k]]


@pytest.fixture
def pconfig(make_config):
    def build(workers=None, **queue):
        queue = {"partitions": P, "retry_base_seconds": 0.05, **queue}
        return make_config(queue=queue, workers=workers or [])

    return build


def pconfig_with_worker(pconfig):
    """One worker that steals everywhere (and so pops from every partition)."""
    return pconfig(workers=[{"id": "pw", "steal_targets": "*", "concurrency": 4}])


def test_partition_of_is_stable_and_spreads_users():
    assert partition_of("acme", 3) == partition_of("acme", 3)
    spread = Counter(partition_of(f"u{i}", 4) for i in range(4000))
    assert set(spread) == {0, 1, 2, 3} and min(spread.values()) > 850


def test_tasks_live_in_their_users_partition(make_queue, pconfig, raw):
    q = make_queue(pconfig())
    users = users_in_every_partition()
    q.push_batch([Task.create(u, 3, {"u": u}, task_id=f"t-{u}") for u in users])
    name = q.session.queue.name
    for u in users:
        k = partition_of(u, P)
        assert raw.hget(f"fq:{{{name}#{k}}}:task:t-{u}", "user") == u
        assert q.get_task(f"t-{u}").state == "ready"
    stats = q.stats()
    assert stats.ready == len(users) and {b.user_id for b in stats.users} == set(users)


def test_the_fair_pick_serves_users_of_every_partition_alike(make_queue, pconfig):
    """One user alone in a partition, two in another, three in the third: with the fair pick
    every user gets the same number of dispatches, whichever partition it lives in, at every
    point of the run (the pick reads each partition's head pass along with each pop)."""
    q = make_queue(pconfig())
    groups = [users_in_every_partition(n)[: P * n] for n in (1, 2, 3)]
    layout = {k: [u for u in groups[k] if partition_of(u, P) == k][: k + 1] for k in range(P)}
    users = [u for k in range(P) for u in layout[k]]
    q.push_batch([Task.create(u, 3, i) for u in users for i in range(30)])
    served = Counter()
    for n in range(1, 24 * len(users) + 1):
        (t,) = q.pop_many(1)
        served[t.user_id] += 1
        q.complete(t)
        if n % len(users) == 0:  # after each full round, everyone within one of the others
            assert max(served.values()) - min(served[u] for u in users) <= 2, served
    assert set(served) == set(users)


def test_a_user_entering_an_idle_partition_starts_at_the_global_virtual_time(make_queue, pconfig):
    """Partitions 0 and 1 busy for a while, partition 2 idle (its virtual time still 0): a
    user arriving there is charged from the global virtual time, so it gets its third of the
    dispatches from then on, not a burst until its pass catches up with the others'."""
    q = make_queue(pconfig())
    busy, late = users_in_every_partition()[:2], users_in_every_partition()[2]
    q.push_batch([Task.create(u, 3, i) for u in busy for i in range(200)])
    for _ in range(120):  # 60 dispatches each: their passes are ~60
        (t,) = q.pop_many(1)
        q.complete(t)
    q.push_batch([Task.create(late, 3, i) for i in range(100)])
    served = Counter()
    for _ in range(30):
        (t,) = q.pop_many(1)
        served[t.user_id] += 1
        q.complete(t)
    assert 8 <= served[late] <= 12, served  # a third of 30, not 30
    assert all(8 <= served[u] <= 12 for u in busy), served


def test_the_sticky_pick_serves_partitions_in_turn_and_acks_find_their_partition(
    make_queue, pconfig
):
    q = make_queue(pconfig(max_attempts=1, partition_pick="sticky"))
    users = users_in_every_partition()
    per_user = QUANTUM + 5
    q.push_batch([Task.create(u, 3, i, task_id=f"{u}-{i}") for u in users for i in range(per_user)])
    served = Counter()
    order = []
    for n in range(3 * QUANTUM):
        t = q.pop()
        served[t.user_id] += 1
        order.append(t.user_id)
        if n % 2:
            assert q.complete(t, result="ok").value == "ok"
        else:
            q.fail(t, RuntimeError("partitioned failure"))
    # A sticky popper stays on a partition for QUANTUM pops (one node, one round trip for its
    # acks and next pop), then moves on: every partition in turn.
    assert set(served.values()) == {QUANTUM}
    assert [order[i * QUANTUM] for i in range(3)] == [order[i * QUANTUM + 1] for i in range(3)]
    stats = q.stats()
    assert stats.counters["completed"] + stats.counters["dead"] == 3 * QUANTUM
    dead = q.dlq(limit=3 * QUANTUM)
    assert {e.user_id for e in dead} == set(users)
    assert q.requeue_dead([e.task_id for e in dead]) == len(dead)
    assert q.stats().dead == 0


def test_heartbeat_and_release_route_by_user(make_queue, pconfig):
    q = make_queue(pconfig())
    users = users_in_every_partition()
    q.push_batch([Task.create(u, 3, 0, task_id=f"h-{u}") for u in users])
    held = q.pop_many(1) + q.pop_many(1) + q.pop_many(1)
    assert {t.user_id for t in held} == set(users)
    deadlines = q.heartbeat(held)
    assert all(deadlines[t.task_id] is not None for t in held)
    assert all(r.value == "ok" for r in q.release(held))
    assert q.stats().inflight == 0 and q.stats().ready == len(users)


@pytest.mark.parametrize("worker_kind", ["sync", "async"])
def test_a_worker_drains_every_partition(pconfig, worker_kind):
    config = pconfig_with_worker(pconfig)
    users = users_in_every_partition(2)
    with TaskQueue(config) as q:
        q.push_batch([Task.create(u, 3, i, task_id=f"{u}.{i}") for u in users for i in range(20)])
        h = Harness(worker_kind, config, lambda t: t.payload)
        try:
            wait_for(lambda: q.stats().counters.get("completed", 0) == 20 * len(users))
        finally:
            h.stop()
        assert q.get_task(f"{users[-1]}.19").result == 19


def test_a_worker_consumes_only_its_partitions(make_config):
    config = make_config(
        queue={"partitions": P},
        workers=[{"id": "p0", "steal_targets": "*", "partitions": [0]}],
    )
    users = users_in_every_partition()
    with TaskQueue(config) as producer, TaskQueue(config, worker_id="p0") as w:
        producer.push_batch([Task.create(u, 3, 0, task_id=f"o-{u}") for u in users])
        got = w.pop_many(10) + w.pop_many(10)
        assert [t.user_id for t in got] == [users[0]]  # partition 0's user only


def test_bad_worker_partitions_are_a_config_error(make_config):
    with pytest.raises(ConfigError, match=r"workers.w.partitions: \[5\]"):
        make_config(queue={"partitions": 3}, workers=[{"id": "w", "partitions": [0, 5]}])


def test_inspector_and_admin_see_one_queue(pconfig):
    pinned = [{"id": f"p{k}", "steal_targets": "*", "partitions": [k]} for k in range(P)]
    config = pconfig(max_attempts=1, workers=pinned)
    users = users_in_every_partition()
    with Inspector(config) as ins, Admin(config) as admin:
        q = ins.queue
        q.push_batch([Task.create(u, 3, i, task_id=f"{u}:{i}") for u in users for i in range(4)])
        for k in range(P):  # one failure in each partition
            with TaskQueue(config, worker_id=f"p{k}") as worker:
                worker.fail(worker.pop(), RuntimeError("boom"))
        overview = ins.overview()
        assert overview.totals.ready == 9 and overview.totals.dead == 3
        assert sum(p.dead for p in overview.throughput) == 3
        page = ins.users(limit=10)
        assert {r.user_id for r in page.rows} == set(users) and page.total_users == 3
        assert ins.user(users[1]).row.ready == 3
        groups = ins.dlq_groups("error")
        assert [(g.key, g.count) for g in groups.groups] == [("boom", 3)]
        assert ins.explain(f"{users[2]}:3").state == "ready"
        assert admin.pause(users[0]).touched == 1
        assert ins.user(users[0]).row.paused
        assert admin.drain(users[1]).touched == 3
        assert q.get_task(f"{users[1]}:3").state == "canceled"
        assert admin.requeue(error="boom").touched == 3
        assert ins.overview().totals.dead == 0


def test_shell_completion_offers_users_of_every_partition(make_queue, pconfig, monkeypatch):
    from click.testing import CliRunner

    from fairque.cli.main import cli

    q = make_queue(pconfig())
    users = users_in_every_partition()
    q.push_batch([Task.create(u, 3, 0) for u in users])
    monkeypatch.setenv("FAIRQUE_QUEUE__PARTITIONS", str(P))
    monkeypatch.setenv("_FAIRQUE_COMPLETE", "bash_complete")
    monkeypatch.setenv(
        "COMP_WORDS",
        f"fairque --redis-url {q.config.redis.url} --queue {q.session.queue.name} pause --user u",
    )
    monkeypatch.setenv("COMP_CWORD", "7")
    r = CliRunner().invoke(cli, [], prog_name="fairque")
    assert all(u in r.output for u in users), r.output


def test_dependencies_stay_within_a_partition(make_queue, pconfig, nothing_written):
    q = make_queue(pconfig())
    a, a2, b = users_in_every_partition(2)[:2] + users_in_every_partition()[1:2]
    assert partition_of(a, P) == partition_of(a2, P) != partition_of(b, P)
    q.push(Task.create(a, task_id="p"))
    # a parent in the child's partition, pushed before or in the same call: released as usual
    q.push_batch(
        [
            Task.create(a2, task_id="c", after="p"),
            Task.create(a, task_id="p2"),
            Task.create(a2, task_id="c2", after="p2"),
        ]
    )
    assert q.get_task("c").state == "blocked"
    with nothing_written(), pytest.raises(InvalidDependency, match="partition"):
        q.push(Task.create(b, task_id="x", after="p"))  # another partition's parent
    with nothing_written(), pytest.raises(InvalidDependency, match="not pushed yet"):
        q.push(Task.create(a, task_id="y", after="later"))
    done = []
    while len(done) < 4:
        task = q.pop()
        if task is not None:
            done.append(task.task_id)
            q.complete(task)
    assert set(done) == {"p", "p2", "c", "c2"}
