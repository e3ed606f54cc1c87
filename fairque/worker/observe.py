"""What a worker tells the outside about the tasks it runs: one log line per task event (text
or JSON) and run metrics (a Prometheus registry of its own, served on the probe port).

Outcomes, once the server has answered the acknowledgement: ``completed``; ``retried`` (a
failed attempt that will run again); ``dead`` (a failed attempt that went to the DLQ);
``timed_out`` (past ``task_timeout``; retried or dead like any failure); ``stale`` (the lease
was lost before the acknowledgement: someone else owns the task now). Payloads never reach a
log line unless asked (``log_payloads``): they may hold personal data.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fairque.core.models import AckResult
from fairque.queue.ops import Acks

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

task_log = logging.getLogger("fairque.tasks")

RUN_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
FETCH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)


def outcome_of(failed: bool, error_type: str, ack: AckResult | None) -> str:
    if ack in (AckResult.STALE, AckResult.MISSING):
        return "stale"
    if ack == AckResult.CANCELED:
        return "canceled"
    if not failed:
        return "completed"
    if error_type == "TaskTimeout":
        return "timed_out"
    return "dead" if ack == AckResult.DEAD else "retried"


class RunObserver:
    """Counts and logs each settled run of one worker.

    ``metrics=False`` (a worker without a probe port: nobody could read them) keeps no run
    metrics: no Prometheus import at start (about 45 ms) and no histogram update per task."""

    def __init__(
        self,
        worker_id: str,
        log_tasks: bool = False,
        log_payloads: bool = False,
        metrics: bool = True,
    ) -> None:
        self.worker_id = worker_id
        self.log_tasks = log_tasks  # a line per completed task too (failures always log)
        self.log_payloads = log_payloads
        self.metrics = metrics
        self.registry: CollectorRegistry | None = None
        self._run_children: dict[tuple[str, str], Any] = {}
        if metrics:
            self._declare_metrics()

    def _declare_metrics(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        worker_id = self.worker_id
        self.registry = CollectorRegistry()
        labels = ["worker", "handler", "outcome"]
        self.runs = Histogram(
            "fairque_task_run_seconds",
            "How long handlers ran, by handler and outcome.",
            labels,
            buckets=RUN_BUCKETS,
            registry=self.registry,
        )
        self.inflight = Gauge(
            "fairque_worker_inflight", "Tasks the worker holds.", ["worker"], registry=self.registry
        )
        self.fetch = Histogram(
            "fairque_worker_fetch_seconds",
            "Round trips that acknowledge finished tasks and lease more.",
            ["worker"],
            buckets=FETCH_BUCKETS,
            registry=self.registry,
        )
        self._fetch = self.fetch.labels(worker_id)
        self._inflight = self.inflight.labels(worker_id)
        self.errors = Counter(
            "fairque_worker_server_errors",
            "Failed round trips to the server (connection lost, server errors).",
            ["worker"],
            registry=self.registry,
        )

    def exchanged(self, seconds: float, held: int) -> None:
        if self.metrics:
            self._fetch.observe(seconds)
            self._inflight.set(held)

    def server_error(self) -> None:
        if self.metrics:
            self.errors.labels(self.worker_id).inc()

    def settled(self, runs: Iterable[SettledRun], acks: Acks) -> None:
        for r in runs:
            ack = acks.get(r.task_id)
            outcome = outcome_of(r.failed, r.error_type, ack)
            if self.metrics:
                key = (r.handler, outcome)
                child = self._run_children.get(key)
                if child is None:  # labels() costs a lock and a lookup: once per label pair
                    child = self._run_children[key] = self.runs.labels(self.worker_id, *key)
                child.observe(r.seconds)
            if outcome == "completed" and not self.log_tasks:
                continue
            fields: dict[str, Any] = {
                "event": "task",
                "worker": self.worker_id,
                "task_id": r.task_id,
                "user": r.user,
                "handler": r.handler,
                "attempt": r.attempt,
                "outcome": outcome,
                "run_ms": round(r.seconds * 1000, 3),
                "wait_ms": r.waited_ms,
            }
            if r.failed:
                fields["error_type"] = r.error_type
                fields["error"] = r.error[:500]
            if self.log_payloads:
                fields["payload"] = r.payload
            level = logging.WARNING if outcome in ("dead", "stale") else logging.INFO
            text = " ".join(f"{k}={v}" for k, v in fields.items() if k not in ("event", "payload"))
            task_log.log(level, "task %s", text, extra={"fairque": fields})


@dataclass(frozen=True, slots=True)
class SettledRun:
    """The facts of one finished run that logs and metrics need."""

    task_id: str
    user: str
    handler: str
    attempt: int
    seconds: float
    waited_ms: int | None
    failed: bool
    error_type: str = ""
    error: str = ""
    payload: Any = None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and a task event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fairque", None)
        if isinstance(fields, dict):
            doc.update(fields)
        else:
            doc["message"] = record.getMessage()
        if record.exc_info:
            doc["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def configure_logging(fmt: str) -> None:
    """The worker command's logging: ``text`` lines or ``json`` objects on stderr."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
