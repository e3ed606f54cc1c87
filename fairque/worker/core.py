"""What the thread worker and the asyncio worker share: bookkeeping, handler resolution,
outcomes, the registry entry and the beat/poll clock. Only running handlers and waiting
differ between the two, so that is all their own modules hold.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from fairque.core.codec import encode_json
from fairque.core.config import FairQueueConfig, WorkerConfig
from fairque.core.exceptions import InvalidPayload
from fairque.core.models import Task
from fairque.queue import ops
from fairque.queue import partitions as routed
from fairque.queue.partitions import Partitions
from fairque.version import __version__
from fairque.worker.handlers import BoundHandler, HandlerRegistry, as_handler, registry
from fairque.worker.observe import RunObserver, SettledRun
from fairque.worker.probes import ProbeServer

log = logging.getLogger("fairque.worker")

MIN_POLL = 0.001
ALIVE_WITHIN = 10.0  # seconds: a loop that has not ticked for this long is stuck


class WorkerStatus(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"


class WorkerHealth(BaseModel):
    """What ``health()`` reports."""

    worker_id: str
    status: WorkerStatus
    healthy: bool
    inflight: int
    processed: int
    failed: int
    timed_out: int
    stolen: int
    seconds_since_server_contact: float | None
    last_error: str | None
    alive: bool = False  # the loop is ticking (liveness)
    ready: bool = False  # running, connected, not stopping (readiness)


class TaskTimeout(Exception):
    """A task ran past the worker's ``task_timeout``."""


@dataclass
class Running:
    """A task a worker holds, from lease to acknowledgement."""

    task: Task
    handler: BoundHandler | None
    started: float  # monotonic
    deadline: float | None  # monotonic; None = no time limit
    abandoned: bool = False  # timed out: its late result must be dropped


@dataclass
class Outcome:
    """What became of one run: a result to complete with, or a failure to report."""

    running: Running
    result: Any = None
    failure: ops.Failure | None = None
    finished: float = field(default_factory=time.monotonic)

    def facts(self, log_payloads: bool) -> SettledRun:
        task, f = self.running.task, self.failure
        lease = task.lease
        return SettledRun(
            task_id=task.task_id,
            user=task.user_id,
            handler=task.handler or "(default)",
            attempt=lease.attempt if lease else task.attempts,
            seconds=max(self.finished - self.running.started, 0.0),
            waited_ms=lease.waited_ms if lease else None,
            failed=f is not None,
            error_type=f.error_type if f else "",
            error=f.error if f else "",
            payload=task.payload if log_payloads else None,
        )


def resolve_worker(config: FairQueueConfig, worker_id: str | None) -> WorkerConfig:
    """The worker's ``[[workers]]`` entry (the only one when the config has exactly one)."""
    if worker_id is not None:
        return config.worker(worker_id)
    if len(config.workers) == 1:
        return config.workers[0]
    ids = ", ".join(w.id for w in config.workers) or "none"
    raise ValueError(f"choose a worker id: the config has {len(config.workers)} ({ids})")


@dataclass
class WorkerCore:
    """The state and decisions of one worker, independent of threads or asyncio."""

    config: FairQueueConfig
    settings: WorkerConfig
    default_handler: BoundHandler | None
    handlers: HandlerRegistry
    kind: str
    running: dict[str, Running] = field(default_factory=dict)
    processed: int = 0
    failed: int = 0
    timed_out: int = 0
    stolen: int = 0
    status: WorkerStatus = WorkerStatus.STARTING
    last_contact: float | None = None
    last_error: str | None = None
    last_tick: float | None = None  # the loop's last pass (alive while it keeps ticking)
    connected: bool = False  # the last round trip reached the server
    observer: RunObserver | None = None
    _next_beat: float = 0.0
    _idle_polls: int = 0
    _start_tries: int = 0

    def __post_init__(self) -> None:
        if self.observer is None:
            s = self.settings
            self.observer = RunObserver(self.worker_id, s.log_tasks, s.log_payloads)

    @classmethod
    def build(
        cls,
        config: FairQueueConfig,
        handler: Any,
        worker_id: str | None,
        handlers: HandlerRegistry | None,
        kind: str,
    ) -> WorkerCore:
        settings = resolve_worker(config, worker_id)
        bound = as_handler(handler) if handler is not None else None
        return cls(config, settings, bound, handlers or registry, kind)

    @property
    def worker_id(self) -> str:
        return self.settings.id

    # -- fetching -------------------------------------------------------------------------

    def free_slots(self) -> int:
        live = sum(1 for r in self.running.values() if not r.abandoned)
        return max(self.settings.concurrency - live, 0)

    def poll_delay(self, got_work: bool) -> float:
        """How long to wait before the next pop: none while busy, growing while idle."""
        if got_work:
            self._idle_polls = 0
            return 0.0
        self._idle_polls += 1
        backoff: float = MIN_POLL * 2 ** min(self._idle_polls, 16)
        return min(backoff, self.settings.poll_interval)

    def accept(self, task: Task) -> Running:
        """Take a popped task: resolve its handler and start its clock."""
        now = time.monotonic()
        timeout = self.settings.task_timeout
        handler = self.handlers.get(task.handler) if task.handler else self.default_handler
        run = Running(task, handler, now, now + timeout if timeout else None)
        self.running[task.task_id] = run
        if task.lease is not None and task.lease.stolen:
            self.stolen += 1
        return run

    def unresolved(self, run: Running) -> Outcome:
        """The outcome for a task whose handler is not registered: the DLQ, never an import."""
        name = run.task.handler
        why = f"unknown handler {name!r}" if name else "no handler: the task names none"
        return self.failure(run, why, "UnknownHandler", retry=False)

    # -- outcomes -------------------------------------------------------------------------

    def success(self, run: Running, result: Any) -> Outcome:
        """A finished run; a result that is not JSON fails the task instead (no retry)."""
        try:
            encode_json(result, what="result")
        except InvalidPayload as exc:
            return self.failure(run, exc, "InvalidResult", retry=False)
        return Outcome(run, result=result)

    def failure(
        self,
        run: Running,
        error: BaseException | str,
        error_type: str | None = None,
        *,
        retry: bool = True,
    ) -> Outcome:
        return Outcome(run, failure=ops.failure_of(run.task, error, retry, error_type))

    def expired(self) -> list[Running]:
        """Runs past their deadline; each is marked abandoned (its late result is dropped)."""
        now = time.monotonic()
        late = [
            r
            for r in self.running.values()
            if not r.abandoned and r.deadline is not None and now >= r.deadline
        ]
        for r in late:
            r.abandoned = True
            self.timed_out += 1
        return late

    def note_timeout(self, run: Running) -> None:
        """Count a run that an asyncio timeout cancelled."""
        run.abandoned = True
        self.timed_out += 1

    def timeout_outcome(self, run: Running) -> Outcome:
        limit = self.settings.task_timeout
        return self.failure(run, TaskTimeout(f"task timed out after {limit} s"), "TaskTimeout")

    def settle(self, outcomes: list[Outcome]) -> tuple[list[tuple[Task, Any]], list[ops.Failure]]:
        """Split outcomes into acks to send, and forget the runs."""
        completes: list[tuple[Task, Any]] = []
        failures: list[ops.Failure] = []
        for o in outcomes:
            self.running.pop(o.running.task.task_id, None)
            o.running.task.note_run(o.finished - o.running.started)  # charged by run time
            if o.failure is not None:
                failures.append(o.failure)
                self.failed += 1
            else:
                completes.append((o.running.task, o.result))
                self.processed += 1
        return completes, failures

    def restore(self, outcomes: list[Outcome]) -> None:
        """Undo :meth:`settle` when the acknowledgements could not be sent (retried later)."""
        for o in outcomes:
            self.running[o.running.task.task_id] = o.running
            if o.failure is not None:
                self.failed -= 1
            else:
                self.processed -= 1

    def exchange_op(
        self, parts: Partitions, outcomes: list[Outcome], fetch: bool
    ) -> ops.Op[list[Task]]:
        """Settle ``outcomes`` and, in one round trip, acknowledge them and lease as many
        tasks as there are free slots (none when ``fetch`` is false); then count and log
        each settled run with what the server answered."""
        completes, failures = self.settle(outcomes)
        count = self.free_slots() if fetch else 0
        started = time.monotonic()
        tasks, acks = yield from routed.ack_and_pop(parts, completes, failures, count)
        assert self.observer is not None
        self.observer.exchanged(time.monotonic() - started, len(self.held_tasks()) + len(tasks))
        if outcomes:
            log_payloads = self.settings.log_payloads
            self.observer.settled([o.facts(log_payloads) for o in outcomes], acks)
        return tasks

    # -- the loop's health ------------------------------------------------------------------

    def tick_ok(self) -> None:
        """A pass of the loop that reached the server."""
        self.last_tick = time.monotonic()
        self.connected = True

    def unreachable_at_start(self, exc: Exception) -> float:
        """The server is not up yet (workers may start first): how long to wait before the
        next try (0.1 s doubling to 2 s). Not ready meanwhile."""
        self.tick_failed(exc)
        self._start_tries += 1
        delay = float(min(0.1 * 2 ** (self._start_tries - 1), 2.0))
        log.warning("worker %s: %s; trying again in %.1f s", self.worker_id, exc, delay)
        return delay

    def tick_failed(self, exc: Exception) -> None:
        """A pass that could not: not ready until a round trip succeeds again."""
        self.last_tick = time.monotonic()
        self.connected = False
        self.last_error = str(exc)
        assert self.observer is not None
        self.observer.server_error()

    # -- beats and registry -----------------------------------------------------------------

    def beat_due(self) -> bool:
        return time.monotonic() >= self._next_beat

    def beat_done(self) -> None:
        now = time.monotonic()
        self.last_contact = now
        self._next_beat = now + self.config.heartbeat_interval(self.settings)

    def held_tasks(self) -> list[Task]:
        return [r.task for r in self.running.values() if not r.abandoned]

    def lost(self, deadlines: dict[str, Any]) -> None:
        """Leases the server says are gone: their results will be refused, so drop them."""
        for task_id, deadline in deadlines.items():
            if deadline is None and task_id in self.running:
                self.running[task_id].abandoned = True

    def beat_op(self, parts: Partitions) -> Generator[ops.Step, Any, None]:
        """One beat: extend held leases, refresh the registry entry and reap expired leases
        in every partition the worker consumes."""
        held = self.held_tasks()
        if held:
            self.lost((yield from routed.heartbeat(parts, held)))
        ttl_ms = round(max(self.config.heartbeat_interval(self.settings) * 3, 10) * 1000)
        fields: dict[str, str | int] = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "kind": self.kind,
            "version": __version__,
            "concurrency": self.settings.concurrency,
            "status": self.status.value,
            "inflight": len(held),
            "processed": self.processed,
            "failed": self.failed,
            "timed_out": self.timed_out,
            "stolen": self.stolen,
        }
        flat: list[str | int | float] = []
        for k, v in fields.items():
            flat += [k, v]
        replies = yield [
            s.call(
                "worker_beat",
                self.worker_id,
                ttl_ms,
                s.queue.promote_batch,
                *s.reap_policy,
                s.registration_fp,
                *flat,
            )
            for s in parts.consumed
        ]
        # Not registered there (first beat, lapsed, or the server lost it): register now.
        lapsed = [s for s, r in zip(parts.consumed, replies, strict=True) if not int(r[2])]
        if lapsed:
            answers = yield [ops.register_call(s) for s in lapsed]
            for s, reply in zip(lapsed, answers, strict=True):
                ops.registered(s, reply)

    def exit_op(self, parts: Partitions) -> Generator[ops.Step, Any, None]:
        """Leave the registry and the routing (of every partition it consumed)."""
        yield [
            call
            for s in parts.consumed
            for call in (
                ops.CommandCall(("ZREM", s.keys.key("workers"), self.worker_id)),
                ops.CommandCall(("DEL", s.keys.key("worker", worker_id=self.worker_id))),
                s.call("unregister", self.worker_id),
            )
        ]

    def health(self) -> WorkerHealth:
        contact = None if self.last_contact is None else time.monotonic() - self.last_contact
        limit = self.config.heartbeat_interval(self.settings) * 3
        healthy = self.status == WorkerStatus.RUNNING and contact is not None and contact < limit
        tick = None if self.last_tick is None else time.monotonic() - self.last_tick
        alive = self.status != WorkerStatus.STOPPED and tick is not None and tick < ALIVE_WITHIN
        return WorkerHealth(
            alive=alive,
            ready=alive and self.status == WorkerStatus.RUNNING and self.connected,
            worker_id=self.worker_id,
            status=self.status,
            healthy=healthy,
            inflight=len(self.held_tasks()),
            processed=self.processed,
            failed=self.failed,
            timed_out=self.timed_out,
            stolen=self.stolen,
            seconds_since_server_contact=None if contact is None else round(contact, 3),
            last_error=self.last_error,
        )


class WorkerBase:
    """What both workers are built from: the config, the handler(s), the shared core and a
    queue of the worker's kind (``queue_class``)."""

    kind = "sync"
    queue_class: Any = None

    def __init__(
        self,
        config: FairQueueConfig | None = None,
        handler: Any = None,
        *,
        worker_id: str | None = None,
        handlers: HandlerRegistry | None = None,
    ) -> None:
        self.config = config if config is not None else FairQueueConfig.load()
        self.core = WorkerCore.build(self.config, handler, worker_id, handlers, self.kind)
        self.queue = self.queue_class(self.config, worker_id=self.core.worker_id)
        self._setup()

    def _setup(self) -> None:
        """Each worker's own state (its queues of jobs and results)."""

    probe_port: int | None = None  # where /healthz, /readyz and /metrics answer (if served)

    @contextmanager
    def probes(self) -> Iterator[None]:
        """Serve the probes for as long as the worker runs (when ``health_port`` is set)."""
        s = self.core.settings
        if s.health_port is None:
            yield
            return
        assert self.core.observer is not None
        server = ProbeServer(self.health, self.core.observer.registry, s.health_host, s.health_port)
        self.probe_port = server.port
        log.info("worker %s: probes on http://%s:%d", self.worker_id, s.health_host, server.port)
        try:
            yield
        finally:
            server.close()

    @property
    def worker_id(self) -> str:
        return self.core.worker_id

    def health(self) -> WorkerHealth:
        return self.core.health()
