"""Each alert rule fires and clears; the metrics endpoint is scraped over HTTP and parsed."""

from __future__ import annotations

import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fairque import Task, TaskQueue
from fairque.core.config import AlertsConfig
from fairque.monitoring import Admin, Inspector
from fairque.monitoring.alerts import AlertInputs, AlertTracker, evaluate
from fairque.monitoring.metrics import dump, serve
from fairque.monitoring.models import ThroughputPoint
from fairque.queue.ops import single
from fairque.server import free_port

TIGHT = {
    "dlq_size": 2,
    "dlq_growth_5m": 2,
    "backlog": 5,
    "oldest_age_seconds": 0.5,
    "starvation_seconds": 1,
    "noisy_factor": 2,
    "noisy_min_pushes_5m": 20,
    "worker_stale_seconds": 0.5,
    "failure_rate": 0.5,
    "failure_min_events_5m": 4,
}


@pytest.fixture
def q(make_config):
    with TaskQueue(make_config(queue={"max_attempts": 1}, alerts=TIGHT)) as queue:
        yield queue


@pytest.fixture
def ins(q, monitor):
    return monitor(Inspector, q.config)


def firing(ins, rule):
    return {a.subject for a in ins.alerts() if a.rule == rule}


def test_dlq_size_and_growth(q, ins):
    q.push_batch([Task.create("u", 3, i) for i in range(2)])
    assert firing(ins, "dlq_size") == set()
    for _ in range(2):
        q.fail(q.pop(), "x")
    assert firing(ins, "dlq_size") == {"queue"} and firing(ins, "dlq_growth") == {"queue"}
    Admin(q.config, queue=q).purge(all=True)
    assert firing(ins, "dlq_size") == set()


def test_backlog_oldest_age_and_starvation(q, ins):
    q.push_batch([Task.create("big", 3, i) for i in range(6)])
    assert firing(ins, "backlog") == {"big"}
    assert firing(ins, "oldest_age") == set()
    time.sleep(1.1)
    assert firing(ins, "oldest_age") == {"big"}
    assert firing(ins, "starvation") == {"big"}  # has work, nobody served it
    q.complete(q.pop())  # served now
    assert firing(ins, "starvation") == set()
    Admin(q.config, queue=q).drain("big")
    assert firing(ins, "backlog") == firing(ins, "oldest_age") == set()


def test_noisy_neighbour(q, ins):
    q.push_batch([Task.create("noisy", 3, i) for i in range(40)])
    q.push_batch([Task.create(f"quiet{i}", 3, 0) for i in range(4)])
    assert firing(ins, "noisy_neighbour") == {"noisy"}


def test_worker_heartbeat(q, ins):
    s = q.session

    def beat():
        call = s.call(
            "worker_beat", "w-silent", 10_000, 10, *s.reap_policy, "", "host", "h", "pid", 1
        )
        q.run(single(call))

    beat()
    assert firing(ins, "worker_heartbeat") == set()
    time.sleep(0.6)
    assert firing(ins, "worker_heartbeat") == {"w-silent"}
    beat()
    assert firing(ins, "worker_heartbeat") == set()


def test_failure_rate(q, ins, make_config):
    with TaskQueue(make_config(queue={"max_attempts": 5})) as retrying:
        retrying.push_batch([Task.create("u", 3, i) for i in range(4)])
        for _ in range(4):
            retrying.fail(retrying.pop(), "flaky", retry=True)
    assert firing(ins, "failure_rate") == {"queue"}


def test_queue_unhealthy_corrupt_records_and_wrong_key_type(q, ins, raw):
    q.push(Task.create("u", 3, 1, task_id="bad"))
    raw.hdel(q.session.keys.task("bad"), "user")
    assert q.pop() is None  # buried as corrupt
    assert firing(ins, "queue_unhealthy") == {"queue"}
    stats_key = q.session.keys.key("stats")
    saved = raw.dump(stats_key)
    raw.delete(stats_key)
    raw.set(stats_key, "not a hash")
    try:
        (alert,) = ins.alerts()
        assert alert.rule == "queue_unhealthy" and stats_key in alert.message
    finally:
        raw.delete(stats_key)
        raw.restore(stats_key, 0, saved)


def test_server_memory(q, ins, raw):
    used = int(raw.info("memory")["used_memory"])
    try:
        raw.config_set("maxmemory", str(int(used * 1.02)))
        assert firing(ins, "server_memory") == {"server"}
    finally:
        raw.config_set("maxmemory", "0")
    assert firing(ins, "server_memory") == set()


def test_rules_clear_when_their_window_passes_and_since_is_kept():
    # The time-window rules, checked on synthetic snapshots (an hour cannot pass in a test).
    from fairque.monitoring.models import Overview, ServerInfo, Totals

    def overview(dead=0, failed=0, completed=0, corrupt=0):
        now = datetime(2026, 1, 1, tzinfo=UTC)
        points = [ThroughputPoint(minute=now - timedelta(minutes=59 - i)) for i in range(60)]
        points[-1] = ThroughputPoint(minute=now, dead=dead, failed=failed, completed=completed)
        return Overview(
            queue="q",
            fetched_at=now,
            server=ServerInfo(
                name="valkey",
                version="8",
                uptime_seconds=1,
                used_memory=1,
                maxmemory=0,
                maxmemory_policy="noeviction",
            ),
            totals=Totals(
                ready=0,
                delayed=0,
                inflight=0,
                dead=0,
                backlogged_users=0,
                active_users=0,
                paused_users=0,
                workers=0,
            ),
            counters={},
            throughput=points,
            corrupt_records=corrupt,
            corrupt_last_hour=corrupt,
        )

    cfg = AlertsConfig(**TIGHT)
    busy = AlertInputs(
        overview(dead=5, failed=10, completed=2, corrupt=1),
        [],
        {},
        {"n": 100, "m": 1, "o": 1, "p": 1},
        [],
    )
    quiet = AlertInputs(overview(), [], {}, {}, [])
    rules = {f.rule for f in evaluate(cfg, busy)}
    assert {"dlq_growth", "failure_rate", "queue_unhealthy", "noisy_neighbour"} <= rules
    assert evaluate(cfg, quiet) == []
    tracker = AlertTracker()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    first = tracker.update(evaluate(cfg, busy), t0)
    again = tracker.update(evaluate(cfg, busy), t0 + timedelta(minutes=1))
    assert {a.since for a in first} == {a.since for a in again} == {t0}
    assert tracker.update([], t0 + timedelta(minutes=2)) == []
    assert {a.since for a in tracker.update(evaluate(cfg, busy), t0 + timedelta(minutes=3))} == {
        t0 + timedelta(minutes=3)
    }


def test_metrics_endpoint_is_scraped_and_parsed(q, ins):
    q.push_batch([Task.create(u, p, i) for u in ("a", "b", "c") for p in (3, 6) for i in range(2)])
    t = q.pop()
    q.complete(t)
    port = free_port()
    server = serve(ins, port=port, top_users=2)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
    finally:
        server.shutdown()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    queue = q.session.queue.name

    def value(name, **labels):
        return samples[(name, tuple(sorted({"queue": queue, **labels}.items())))]

    assert value("fairque_tasks_total", event="pushed") == 12
    assert value("fairque_tasks_total", event="completed") == 1
    assert value("fairque_queue_tasks", state="blocked") == 0
    assert value("fairque_tasks_total", event="released") == 0
    users_shown = {dict(k[1])["user"] for k in samples if k[0] == "fairque_backlog"}
    assert len(users_shown - {"_other"}) == 2 and "_other" in users_shown  # capped at top 2
    assert value("fairque_backlog", user="_other", priority="all") == 3  # 11 ready - 4 - 4
    assert value("fairque_wait_seconds_count") == 1
    assert value("fairque_alert_active", rule="dlq_size") == 0
    assert value("fairque_workers", state="live") == 0
    assert "fairque_user_share" in text and "fairque_oldest_age_seconds" in text
    assert "fairque_tasks_total" in dump(ins)


def test_metrics_dump_command(q):
    from click.testing import CliRunner

    from fairque.cli.main import cli

    url = q.config.redis.url
    r = CliRunner().invoke(
        cli, ["--redis-url", url, "--queue", q.session.queue.name, "metrics", "dump"]
    )
    assert r.exit_code == 0, r.output
    families = {f.name for f in text_string_to_metric_families(r.output)}
    assert {
        "fairque_tasks",
        "fairque_backlog",
        "fairque_wait_seconds",
        "fairque_alert_active",
    } <= families
