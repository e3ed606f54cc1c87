"""Prometheus metrics (docs/operations.md), collected from Inspector snapshots at scrape time.

Per-user series are capped: the ``top_users`` users with the most backlog get their own
series; the rest are summed into ``user="_other"``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from fairque.monitoring.alerts import RULES
from fairque.monitoring.inspector import Inspector
from fairque.monitoring.models import Overview

OTHER = "_other"
EVENTS = ("pushed", "completed", "failed", "retried", "dead", "canceled", "cancel_requested",
          "released", "debounced")  # fmt: skip


# The per-user gauges: key, metric name, help, labels after queue and user.
USER_GAUGES = (
    ("backlog", "fairque_backlog", "Ready tasks by user and priority.", ("priority",)),
    ("inflight", "fairque_inflight", "Leased tasks by user.", ()),
    ("oldest", "fairque_oldest_age_seconds", "Age of the user's oldest ready task.", ()),
    ("share", "fairque_user_share", "Served share (last 5 min) and fair share by weight.",
     ("kind",)),
    ("held", "fairque_user_held", "1 for a user the scheduler holds back: paused, capped (at "
     "max in flight) or quarantined (a broken key).", ("reason",)),
    ("run", "fairque_user_mean_run_seconds", "The user's mean run time (fairness by time "
     "charges it up front per dispatch).", ()),
    ("tenant", "fairque_user_tenant", "1 for each user's tenant (join on user to sum any user "
     "series by tenant).", ("tenant",)),
    ("throttled", "fairque_throttled", "1 for a user its rate limit holds out of the "
     "round-robin until its next token.", ()),
)  # fmt: skip
USER_GAUGES_ORDER = tuple(key for key, *_ in USER_GAUGES)


class FairqueCollector(Collector):
    """Reads the queue on every scrape (a few round trips, whatever the queue's size)."""

    def __init__(self, inspector: Inspector, top_users: int = 50) -> None:
        self.inspector = inspector
        self.top_users = top_users
        self._lock = threading.Lock()  # one scrape at a time on the shared connection state

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            yield from self._collect()

    def _collect(self) -> Iterator[Metric]:
        overview = self.inspector.overview()
        queue = overview.queue
        tasks = CounterMetricFamily(
            "fairque_tasks", "Task events since the queue began.", labels=["queue", "event"]
        )
        for event in EVENTS:
            tasks.add_metric([queue, event], overview.counters.get(event, 0))
        yield tasks
        yield from self._queue(overview)
        yield from self._users(queue, overview.totals.ready, overview.quarantined)
        yield self._waits(queue)
        yield from self._workers(queue)
        firing = {a.rule for a in self.inspector.alerts()}
        alert = GaugeMetricFamily(
            "fairque_alert_active", "1 while an alert rule fires.", labels=["queue", "rule"]
        )
        for rule in RULES:
            alert.add_metric([queue, rule], 1 if rule in firing else 0)
        yield alert

    def _queue(self, overview: Overview) -> Iterator[Metric]:
        queue, t, srv = overview.queue, overview.totals, overview.server
        by_state = GaugeMetricFamily(
            "fairque_queue_tasks",
            "Tasks by state now (dead: in the DLQ; blocked: waiting for their parents).",
            labels=["queue", "state"],
        )
        for state, n in (("ready", t.ready), ("delayed", t.delayed), ("inflight", t.inflight),
                         ("dead", t.dead), ("blocked", t.blocked)):  # fmt: skip
            by_state.add_metric([queue, state], n)
        memory = GaugeMetricFamily(
            "fairque_server_memory_bytes",
            "The server's used memory and maxmemory (0: no limit).",
            labels=["queue", "kind"],
        )
        memory.add_metric([queue, "used"], srv.used_memory)
        memory.add_metric([queue, "max"], srv.maxmemory)
        corrupt = GaugeMetricFamily(
            "fairque_corrupt_records_last_hour",
            "Corrupt or phantom records met in the last hour (and buried).",
            labels=["queue"],
        )
        corrupt.add_metric([queue], overview.corrupt_last_hour)
        yield from (by_state, memory, corrupt)

    def _users(self, queue: str, total_ready: int, quarantined: dict[str, str]) -> Iterator[Metric]:
        page = self.inspector.users(limit=self.top_users)
        g = {key: GaugeMetricFamily(name, text, labels=["queue", "user", *extra])
             for key, name, text, extra in USER_GAUGES}  # fmt: skip
        backlog, inflight, oldest, share, held = (g[k] for k in USER_GAUGES_ORDER[:5])
        run, tenant, throttled = (g[k] for k in USER_GAUGES_ORDER[5:])
        for user in quarantined:
            held.add_metric([queue, user, "quarantined"], 1)
        shown = 0
        for row in page.rows:
            if row.paused and row.user_id not in quarantined:
                held.add_metric([queue, row.user_id, "paused"], 1)
            if row.capped:
                held.add_metric([queue, row.user_id, "capped"], 1)
            for p, n in {**row.by_priority, 6: row.critical}.items():
                backlog.add_metric([queue, row.user_id, str(p)], n)
            inflight.add_metric([queue, row.user_id], row.inflight)
            oldest.add_metric([queue, row.user_id], row.oldest_age_seconds or 0)
            share.add_metric([queue, row.user_id, "served"], row.served_share)
            share.add_metric([queue, row.user_id, "fair"], row.fair_share)
            if row.mean_run_seconds is not None:
                run.add_metric([queue, row.user_id], row.mean_run_seconds)
            if row.tenant:
                tenant.add_metric([queue, row.user_id, row.tenant], 1)
            if row.rate:
                throttled.add_metric([queue, row.user_id], 1 if row.throttled_until else 0)
            shown += row.ready
        if page.total_users > len(page.rows):
            # Everyone past the top N, in one series (its split by priority is not fetched).
            backlog.add_metric([queue, OTHER, "all"], max(total_ready - shown, 0))
        yield from g.values()

    def _waits(self, queue: str) -> Metric:
        hist = self.inspector.wait_histogram()
        cumulative = 0
        buckets = []
        for bound in sorted(int(b) for b in hist if b.isdigit()):
            cumulative += hist[str(bound)]
            buckets.append((str(bound / 1000), cumulative))
        buckets.append(("+Inf", cumulative + hist.get("+Inf", 0)))
        wait = HistogramMetricFamily(
            "fairque_wait_seconds", "Ready-to-start wait of dispatched tasks.", labels=["queue"]
        )
        wait.add_metric([queue], buckets, sum_value=hist.get("sum_ms", 0) / 1000)
        return wait

    def _workers(self, queue: str) -> Iterator[Metric]:
        workers = self.inspector.workers()
        stolen = CounterMetricFamily(
            "fairque_stolen", "Tasks a worker took from steal targets.", labels=["queue", "worker"]
        )
        for w in workers:
            stolen.add_metric([queue, w.worker_id], w.stolen)
        live = GaugeMetricFamily(
            "fairque_workers", "Registered workers.", labels=["queue", "state"]
        )
        live.add_metric([queue, "live"], sum(1 for w in workers if not w.stale))
        live.add_metric([queue, "stale"], sum(1 for w in workers if w.stale))
        # Who each worker registered to serve (an info-style gauge, value = assigned users).
        serves = GaugeMetricFamily(
            "fairque_worker_registration",
            "A live worker's registration: its assigned users (value: how many) and steals.",
            labels=["queue", "worker", "assigned", "steals"],
        )
        for w in workers:
            if w.assigned_users is not None:
                assigned, steals = w.registration_text(most=10)
                serves.add_metric([queue, w.worker_id, assigned, steals], len(w.assigned_users))
        yield from (stolen, live, serves)


def registry_for(inspector: Inspector, top_users: int = 50) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FairqueCollector(inspector, top_users))
    return registry


def dump(inspector: Inspector, top_users: int = 50) -> str:
    """The exposition text of one scrape."""
    return generate_latest(registry_for(inspector, top_users)).decode()


def serve(
    inspector: Inspector, port: int = 9808, addr: str = "127.0.0.1", top_users: int = 50
) -> WSGIServer:
    """Serve ``/metrics`` on ``addr:port`` in a background thread; returns the server."""
    server, _thread = start_http_server(
        port, addr=addr, registry=registry_for(inspector, top_users)
    )
    return server
