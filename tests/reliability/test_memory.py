"""Memory is bounded by live work, not by every user ever seen: 100,000 distinct users push
one task each (per-end-user tenants), every task is served and its result expires, and once
the users have been idle past ``queue.idle_user_seconds`` every trace of them is gone and
``used_memory`` is back within 10% of the empty queue's.

"Empty" is measured after a small round of the same work (2,000 users): the server keeps a
fixed few hundred KB once a queue has been used at all (its script cache, the query buffer
sized by the largest push_batch), whatever the number of users after that. The slow log
(128 entries of truncated arguments, a server-wide diagnostic) is reset before each reading.

Kept on purpose, and bounded by other things: paused and quarantined users (an operator's
decision), settings of configured users, the DLQ (``dlq_max``), queue-wide per-minute counters
(two hours), the event tail (about 10,000 events, gone an hour after the last; left out of
the readings, and its own bound checked)."""

from __future__ import annotations

import time

import pytest
import redis

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.server import EmbeddedServer

USERS = 100_000
IDLE_SECONDS = 2.0


TAIL_BOUND = 2_000_000  # bytes: about 10,000 events of ~100 bytes, and the stream's nodes


def used_memory(client: redis.Redis) -> int:
    """The server's used_memory less the event tails' (bounded on purpose: checked here)."""
    client.slowlog_reset()
    tails = [client.memory_usage(k) or 0 for k in client.scan_iter(match="fq:*:tail")]
    assert all(t <= TAIL_BOUND for t in tails), tails
    return int(client.info("memory")["used_memory"]) - sum(tails)


def churn(q: TaskQueue, client: redis.Redis, users: int, prefix: str) -> int:
    """Push one task for each of ``users`` new users, serve them all, wait until they are
    idle past the retention and forgotten; the peak used_memory on the way."""
    k = q.session.keys
    for i in range(0, users, 2000):
        q.push_batch([Task.create(f"{prefix}-{j}", 3, None) for j in range(i, i + 2000)])
    served = 0
    while batch := q.pop_many(1000):
        q.complete_many((t, None) for t in batch)
        served += len(batch)
    assert served == users
    peak = used_memory(client)
    time.sleep(IDLE_SECONDS + 1)
    while q.pop() is None and client.zcard(k.key("idle")):
        pass  # each pop forgets up to 200 idle users (worker beats do it too)
    assert client.hlen(k.key("pass")) == 0 and client.zcard(k.key("idle")) == 0
    assert not list(client.scan_iter(match=f"fq:{{{q.session.queue.name}}}:waits:*", count=1000))
    deadline = time.monotonic() + 60  # results expire (result_ttl): the server's expiry cycle
    while client.dbsize() > 20 and time.monotonic() < deadline:
        time.sleep(0.5)
    return peak


@pytest.mark.slow
def test_the_state_of_100k_short_lived_users_is_reclaimed_when_they_go_idle():
    with EmbeddedServer() as srv:  # a server of its own: its used_memory is this queue's
        client = redis.Redis.from_url(srv.url)
        config = FairQueueConfig(
            redis={"url": srv.url},
            queue={"name": "churn", "result_ttl": 1, "idle_user_seconds": IDLE_SECONDS},
            alerts={"starvation_seconds": 1},
        )
        with TaskQueue(config) as q:
            assert q.pop() is None  # the first pop seeds the settings (the idle retention)
            assert client.hget(q.session.keys.key("settings"), "#idle_ms") == b"2000"
            churn(q, client, 2000, "warm-up")
            empty = used_memory(client)
            peak = churn(q, client, USERS, "tenant")
            after = used_memory(client)
            left = sorted(
                key.decode() for key in client.scan_iter(match="fq:{churn}:*", count=1000)
            )
        print(
            f"\nmemory: empty queue {empty:,} B; 100,000 users served {peak:,} B; "
            f"{IDLE_SECONDS:g} s after they went idle {after:,} B ({after / empty:.3f}x empty)"
        )
        assert peak > 5 * empty  # the test measures something
        assert after <= empty * 1.10, (empty, peak, after)
        per_user = [key for key in left if "tenant" in key]
        assert not per_user and len(left) < 20, left  # queue-wide keys only


def run_dags(q: TaskQueue, client: redis.Redis, count: int, prefix: str) -> int:
    """``count`` DAGs (a root, 10 children, a join) pushed, served in dependency order, and
    their results expired; the peak used_memory on the way."""
    tasks: list[Task] = []
    for d in range(count):  # the same 5 users in every round: their state is not what grows
        user = f"u{d % 5}"
        root = Task.create(user, 3, None, task_id=f"{prefix}-{d}")
        kids = [Task.create(user, 3, None, task_id=f"{prefix}-{d}-{i}", after=root.task_id)
                for i in range(10)]  # fmt: skip
        tasks += [root, *kids, Task.create(user, 3, None, after=kids)]
    for i in range(0, len(tasks), 2000):
        q.push_batch(tasks[i : i + 2000])
    peak = dataset_memory(client)
    served = 0
    while served < len(tasks):  # a pop may find nothing while it passes parents' ends on
        batch = q.pop_many(500)
        q.complete_many((t, None) for t in batch)
        served += len(batch)
    assert served == len(tasks) and q.stats().blocked == 0
    # Results and dependents' lists expire with result_ttl; the server deletes expired keys
    # in its own cycle (dbsize counts them until then): wait for the queue-wide keys alone.
    deadline = time.monotonic() + 60
    while (dependency_keys(client) or client.dbsize() > 40) and time.monotonic() < deadline:
        time.sleep(0.5)
    return peak


def dependency_keys(client: redis.Redis) -> list[str]:
    """The keys a DAG leaves until its results expire (tasks, dependents, todo, counts)."""
    kinds = {"kids", "deps", "task", "blocked", "uq", "db"}
    keys = (k.decode() for k in client.scan_iter(match="fq:{dags}:*", count=1000))
    return [k for k in keys if k.split(":", 2)[2].split(":")[0] in kinds]


def test_a_finished_dag_leaves_no_dependency_keys_once_its_results_expire():
    with EmbeddedServer() as srv:
        client = redis.Redis.from_url(srv.url)
        config = FairQueueConfig(redis={"url": srv.url}, queue={"name": "dags", "result_ttl": 1})
        with TaskQueue(config) as q:
            # the warm-up pushes chunks as large as the run's: the server keeps a connection's
            # query buffer sized by its largest push (see the module's docstring)
            run_dags(q, client, 200, "warm")
            empty = dataset_memory(client)
            peak = run_dags(q, client, 1000, "dag")
            after = dataset_memory(client)
            left = dependency_keys(client)
        print(f"\nmemory (dataset): empty queue {empty:,} B; 1,000 DAGs queued {peak:,} B "
              f"(used_memory); after their results expired {after:,} B "
              f"({after / empty:.3f}x empty)")  # fmt: skip
        assert peak > 2 * empty  # the test measures something
        assert after <= empty * 1.02, (empty, peak, after)
        assert left == []


def dataset_memory(client: redis.Redis) -> int:
    """The server's memory for data (used_memory_dataset): used_memory less its overhead,
    whose keyspace tables keep the size of the largest key count for a while after it (a
    few hundred KB, varying run to run, not this queue's data), and less the event tails'."""
    client.slowlog_reset()
    tails = [client.memory_usage(k) or 0 for k in client.scan_iter(match="fq:*:tail")]
    assert all(t <= TAIL_BOUND for t in tails), tails
    return int(client.info("memory")["used_memory_dataset"]) - sum(tails)
