"""Durable pushes wait for fsync or replicas (an evicting server: see test_bad_input.py)."""

from __future__ import annotations

import pytest

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.core.exceptions import DurabilityNotConfirmed, UnsupportedServer
from fairque.server import EmbeddedServer


def test_aof_durability_waits_for_the_fsync(tmp_path):
    with EmbeddedServer(directory=tmp_path, appendonly=True) as srv:
        config = FairQueueConfig(redis={"url": srv.url, "durability": "aof"})
        with TaskQueue(config) as q:
            assert q.push(Task.create("u", payload=1)).created
            assert len(q.push_batch([Task.create("u", payload=i) for i in range(10)])) == 10
    with EmbeddedServer() as srv:  # no AOF: refused when the queue opens, before any push
        config = FairQueueConfig(redis={"url": srv.url, "durability": "aof"})
        with pytest.raises(UnsupportedServer, match="appendonly yes"):
            TaskQueue(config).open()


def test_replica_durability_reports_an_unconfirmed_push_and_a_retry_is_safe(make_config):
    config = make_config()
    url = config.redis.url
    durable = FairQueueConfig(
        redis={"url": url, "durability": "replicas", "durability_timeout_ms": 50},
        queue={"name": config.queue.name},
    )
    with TaskQueue(durable) as q:
        task = Task.create("u", payload={"x": 1}, task_id="needs-a-replica")
        with pytest.raises(DurabilityNotConfirmed, match="0 of 1 replicas"):
            q.push(task)  # the test server has no replica
        assert q.get_task("needs-a-replica").state == "ready"  # applied, just not confirmed
    with TaskQueue(config) as plain:
        assert plain.push(task).created is False  # retrying is idempotent
