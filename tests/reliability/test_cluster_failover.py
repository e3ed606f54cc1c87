"""R9: SIGKILL the primary that holds a queue, under load, on a 3-primary + 3-replica Valkey
Cluster (the embedded binary). Its replica is promoted; producers and worker processes carry
on by themselves within a bound; the ledger counts lost / duplicated / phantom tasks, with
``durability = "replicas"`` (each push waits for a replica of the node that took it) and
without (the loss a failover may cause is measured and stated, not hidden)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from redis.cluster import RedisCluster

from fairque import FairQueueConfig, Task
from fairque.cluster_server import EmbeddedCluster
from tests.support.ledger import events, report, tally
from tests.support.producers import RetryingProducer
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
# Seconds from the kill: node timeout (2 s) + election + the clients' slot-map refresh, and
# with durability = "replicas" the restarted node's resync as the new primary's replica.
RESUME_BOUND = 15.0


def start_worker(url: str, queue: str, ledger: Path, durability: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FAIRQUE_TEST_LEDGER": str(ledger),
        "FAIRQUE_REDIS__CLUSTER": "1",
        "FAIRQUE_REDIS__DURABILITY": durability,
        "FAIRQUE_REDIS__SOCKET_TIMEOUT": "1",
        "FAIRQUE_QUEUE__VISIBILITY_TIMEOUT": "3",
    }
    cmd = [
        *(sys.executable, "-m", "fairque.cli", "--redis-url", url, "--queue", queue, "worker"),
        *("--handler", "tests.support.handlers:record", "--concurrency", "4"),
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def owner_port(port: int, queue: str) -> int | None:
    """The port of the node serving the queue's slot, as the node at ``port`` sees it."""
    rc = RedisCluster(host="127.0.0.1", port=port)
    try:
        return int(rc.get_node_from_key(f"fq:{{{queue}}}:meta").port)
    except Exception:
        return None
    finally:
        rc.close()


def restart_after_failover(cluster: EmbeddedCluster, victim, queue: str) -> None:  # type: ignore[no-untyped-def]
    """A supervisor restarts the crashed node once its replica took over: it rejoins as the
    new primary's replica (the embedded nodes keep no data on disk, so restarting it before
    the failover would bring back an empty primary). Until it has synced, a push with
    durability = "replicas" has no replica to confirm it, and producers keep retrying."""
    live = next(n for n in cluster.nodes if n is not victim)
    wait_for(lambda: owner_port(live.port, queue) not in (None, victim.port), timeout=30)
    victim.start()


@pytest.fixture(scope="module")
def cluster():  # type: ignore[no-untyped-def]
    with EmbeddedCluster(3, replicas=1) as c:
        yield c


@pytest.mark.slow
@pytest.mark.parametrize("durability", ["replicas", "none"])
def test_a_primary_killed_under_load(cluster, durability, tmp_path):  # type: ignore[no-untyped-def]
    queue = "r9-" + uuid.uuid4().hex[:6]
    rc = RedisCluster.from_url(cluster.url)
    try:
        owner = rc.get_node_from_key(f"fq:{{{queue}}}:meta").port
    finally:
        rc.close()
    victim = next(n for n in cluster.nodes if n.port == owner)
    url = next(n for n in cluster.nodes if n.port != owner).url  # the clients' seed node lives
    config = FairQueueConfig(
        redis={"url": url, "cluster": True, "durability": durability, "socket_timeout": 1,
               "socket_connect_timeout": 0.5},
        queue={"name": queue},
    )  # fmt: skip
    ledger = tmp_path / "ledger"
    workers = [start_worker(url, queue, ledger, durability) for _ in range(2)]
    producer = RetryingProducer(
        config, lambda i: Task.create(f"u{i % 5}", 3, {"sleep": 0.002}, task_id=f"t{i}")
    )
    producer.start()
    try:
        wait_for(lambda: len(events(ledger, "done")) > 200, timeout=30)
        victim.kill()  # SIGKILL
        killed = time.monotonic()
        restart_after_failover(cluster, victim, queue)
        done_before = len(events(ledger, "done"))
        wait_for(lambda: any(at > killed for at in producer.acked_at), timeout=RESUME_BOUND + 5)
        producer_back = min(at for at in producer.acked_at if at > killed) - killed
        wait_for(lambda: len(events(ledger, "done")) > done_before + 50, timeout=RESUME_BOUND + 5)
        workers_back = time.monotonic() - killed
        time.sleep(2)
        producer.stopping.set()
        producer.join(10)
        acked = set(producer.acked)
        with contextlib.suppress(AssertionError):  # what never ran is counted as lost below
            wait_for(lambda: acked <= set(events(ledger, "done")), timeout=30)
        t = tally(events(ledger, "done"), acked)
        t.phantom -= {f"t{i}" for i in range(producer.attempted)}
        report(
            f"R9 SIGKILL a cluster primary under load, durability={durability}",
            t,
            f"acked pushes {len(acked)}, producer back after {producer_back:.1f} s, "
            f"workers after {workers_back:.1f} s",
        )
        assert all(w.poll() is None for w in workers)  # the workers rode it out
        assert producer_back <= RESUME_BOUND and workers_back <= RESUME_BOUND
        assert t.phantom == set()
        if durability == "replicas":
            assert t.lost == set(), f"{len(t.lost)} acknowledged pushes lost"
        assert len(acked) > 300
    finally:
        producer.stopping.set()
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(10)
            except subprocess.TimeoutExpired:
                w.kill()
        if victim.process is None or victim.process.poll() is not None:
            victim.start()
        wait_for(cluster._replicas_synced, timeout=30)  # a full cluster for the next case
