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
(two hours)."""

from __future__ import annotations

import time

import pytest
import redis

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.server import EmbeddedServer

USERS = 100_000
IDLE_SECONDS = 2.0


def used_memory(client: redis.Redis) -> int:
    client.slowlog_reset()
    return int(client.info("memory")["used_memory"])


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
