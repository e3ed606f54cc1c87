"""What only a cluster can do to a queue: move its slot to another node under it (MOVED),
forget its scripts (NOSCRIPT), be asked for keys of several slots (CROSSSLOT). A private
3-node Valkey Cluster from the embedded binary, sync and async clients."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
import redis
from redis.cluster import RedisCluster

from fairque import AsyncTaskQueue, FairQueueConfig, Task, TaskQueue
from fairque.cluster_server import EmbeddedCluster
from fairque.core.exceptions import DurabilityNotConfirmed, ServerError
from fairque.queue.ops import CommandCall, single


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmbeddedCluster]:
    with EmbeddedCluster() as c:
        yield c


@pytest.fixture
def config(cluster: EmbeddedCluster) -> FairQueueConfig:
    return FairQueueConfig(
        redis={"url": cluster.url, "cluster": True},
        queue={"name": "c-" + uuid.uuid4().hex[:8]},
    )


def node_client(cluster: EmbeddedCluster, port: int) -> redis.Redis:
    return redis.Redis(port=port, decode_responses=True)


def move_slot(cluster: EmbeddedCluster, slot: int) -> tuple[int, int]:
    """Migrate ``slot`` (and its keys) to another primary, as a resharding would."""
    rc = RedisCluster.from_url(cluster.url, decode_responses=True)
    try:
        owners = {n.port: n for n in rc.get_primaries()}
        source = rc.nodes_manager.get_node_from_slot(slot).port
    finally:
        rc.close()
    target = next(p for p in owners if p != source)
    src, dst = node_client(cluster, source), node_client(cluster, target)
    src_id, dst_id = src.execute_command("CLUSTER MYID"), dst.execute_command("CLUSTER MYID")
    dst.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", src_id)
    src.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", dst_id)
    while keys := src.execute_command("CLUSTER GETKEYSINSLOT", slot, 1000):
        src.execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
    for port in owners:
        node_client(cluster, port).execute_command("CLUSTER SETSLOT", slot, "NODE", dst_id)
    return source, target


def test_a_queue_follows_its_slot_to_another_node(config, cluster):
    with TaskQueue(config) as q:
        q.push_batch([Task.create(f"u{i % 3}", 3, i, task_id=f"t{i}") for i in range(30)])
        first = q.pop()
        slot = redis.cluster.key_slot(q.session.keys.meta.encode())
        source, target = move_slot(cluster, slot)
        assert source != target
        # The client still maps the slot to the old node: MOVED, then it follows.
        assert q.complete(first, result="done").value == "ok"
        done = 1
        while (t := q.pop()) is not None:
            q.complete(t)
            done += 1
        assert done == 30
        assert q.get_task("t0").state == "completed" and q.stats().counters["completed"] == 30


def test_an_async_queue_follows_its_slot_too(config, cluster):
    async def main() -> int:
        async with AsyncTaskQueue(config) as q:
            await q.push_batch([Task.create("u", 3, i, task_id=f"a{i}") for i in range(10)])
            held = await q.pop()
            move_slot(cluster, redis.cluster.key_slot(q.session.keys.meta.encode()))
            assert (await q.complete(held)).value == "ok"  # MOVED, followed
            done = 1
            while (t := await q.pop()) is not None:
                await q.complete(t)
                done += 1
            return done

    assert asyncio.run(main()) == 10


def forget_scripts(cluster) -> None:
    """Every node forgets the scripts and the library (as a restarted node would)."""
    for port in cluster.ports:
        node_client(cluster, port).script_flush()
        node_client(cluster, port).function_flush()


@pytest.mark.parametrize("scripts", ["functions", "eval"])
def test_scripts_forgotten_by_the_nodes_are_loaded_again(config, cluster, scripts):
    config = config.model_copy(
        update={"redis": config.redis.model_copy(update={"scripts": scripts})}
    )
    with TaskQueue(config) as q:
        q.push(Task.create("u", 3, 1, task_id="a"))
        forget_scripts(cluster)
        q.push_batch([Task.create("u", 3, 2, task_id="b"), Task.create("v", 3, 3, task_id="c")])
        assert {t.task_id for t in q.pop_many(5)} == {"a", "b", "c"}


def test_async_queue_on_the_cluster(config, cluster):
    async def main() -> list[str]:
        async with AsyncTaskQueue(config) as q:
            await q.push_batch([Task.create(f"u{i}", 3, i, task_id=f"x{i}") for i in range(6)])
            forget_scripts(cluster)  # not loaded: on the asyncio path too
            got = await q.pop_many(6)
            await q.complete_many([(t, None) for t in got])
            return sorted(t.task_id for t in got)

    assert asyncio.run(main()) == [f"x{i}" for i in range(6)]


def test_keys_of_several_slots_in_one_call_are_a_typed_error(config):
    with TaskQueue(config) as q, pytest.raises(ServerError, match="span several hash slots"):
        q.run(single(CommandCall(("MGET", "fq:{a}:x", "fq:{b}:y"))))


def test_a_durable_push_waits_on_the_node_that_took_it(cluster, config):
    """durability = "replicas" on a cluster: the WAIT rides in the push's pipeline to the node
    of the queue's slot. These nodes have no replicas, so it cannot be confirmed (with
    replicas, R9 in tests/reliability/test_cluster_failover.py confirms every push)."""
    redis_cfg = {**config.redis.model_dump(), "durability": "replicas",
                 "durability_timeout_ms": 100}  # fmt: skip
    durable = config.model_copy(update={"redis": type(config.redis)(**redis_cfg)})
    with TaskQueue(durable) as q, pytest.raises(DurabilityNotConfirmed, match="0 of 1 replicas"):
        q.push(Task.create("u", 3, 1, task_id="d1"))
    with TaskQueue(config) as q:
        assert q.get_task("d1") is not None  # applied; pushing it again is safe


def test_the_cli_talks_to_the_cluster(config, cluster):
    from click.testing import CliRunner

    from fairque.cli.main import cli

    base = ["--redis-url", cluster.url, "--cluster", "--queue", config.queue.name]
    r = CliRunner().invoke(cli, [*base, "push", "--user", "u1", "--payload", "7"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, [*base, "--json", "info"])
    assert r.exit_code == 0 and '"ready": 1' in r.output
