"""What the thread worker and the asyncio worker share: bookkeeping, handler resolution,
outcomes, the registry entry, the beat/poll clock, backoff and shutdown. Every decision is
made here; the two workers only wait and run handlers, each in its own way.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from fairque.core.codec import encode_json
from fairque.core.config import FairQueueConfig, WorkerConfig
from fairque.core.exceptions import InvalidPayload
from fairque.core.models import Task
from fairque.queue import control, ops
from fairque.queue import partitions as routed
from fairque.queue.partitions import Partitions
from fairque.version import __version__
from fairque.worker.batches import Batch, Batcher, split_results
from fairque.worker.context import TaskCanceledError
from fairque.worker.handlers import BoundHandler, HandlerRegistry, as_handler, registry
from fairque.worker.observe import RunObserver
from fairque.worker.pacing import Pacing
from fairque.worker.runs import Outcome, Running, TaskTimeout, WorkerHealth, WorkerStatus
from fairque.worker.task_refs import PayloadRejected
from fairque.worker.waker import Waker

log = logging.getLogger("fairque.worker")

ALIVE_WITHIN = 10.0  # seconds: a loop that has not ticked for this long is stuck
ERROR_BACKOFF_MAX = 2.0  # seconds between tries while the server cannot be reached


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
    pending: list[Outcome] = field(default_factory=list)  # finished, not acknowledged yet
    _next_beat: float = 0.0
    _errors: int = 0  # failed passes in a row (the backoff)
    _start_tries: int = 0
    canceled: int = 0  # runs whose cancel reached this worker
    pacing: Pacing = field(init=False)  # when to pop again, and how long to wait
    _beat_cancels: set[str] = field(default_factory=set)
    batcher: Batcher = field(init=False)  # batch handlers' open batches

    def __post_init__(self) -> None:
        self.pacing = Pacing(self.settings.poll_interval)
        self.batcher = Batcher()
        if self.observer is None:
            s = self.settings
            metrics = s.health_port is not None  # served on the probe port, or nowhere
            self.observer = RunObserver(self.worker_id, s.log_tasks, s.log_payloads, metrics)

    @classmethod
    def build(
        cls,
        config: FairQueueConfig,
        handler: Any,
        worker_id: str,
        handlers: HandlerRegistry | None,
        kind: str,
    ) -> WorkerCore:
        """The core of ``config``'s worker ``worker_id`` (an entry the config has)."""
        settings = config.worker(worker_id)
        bound = as_handler(handler) if handler is not None else None
        return cls(config, settings, bound, handlers or registry, kind)

    @property
    def worker_id(self) -> str:
        return self.settings.id

    # -- fetching -------------------------------------------------------------------------

    def free_slots(self) -> int:
        # A running batch takes one slot whatever its size; an open one takes none (the pops
        # that fill it are what it waits for), up to a bound on the tasks held waiting.
        live, waiting = set(), 0
        for r in self.running.values():
            if r.abandoned:
                continue
            if r.batch is not None and r.batch in self.batcher.waiting:
                waiting += 1
            else:
                live.add(id(r.batch or r))
        if waiting and waiting >= self.batcher.hold_limit(self.settings.concurrency):
            return 0
        return max(self.settings.concurrency - len(live), 0)

    def drained(self, got: int) -> bool:
        """Burst mode's end: the last pop found nothing and nothing is running or waits to be
        acknowledged (delayed tasks not due yet are left for another worker)."""
        return got == 0 and not self.running and not self.pending

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
        if isinstance(error, TaskCanceledError | PayloadRejected):
            retry = False  # the handler stopped itself, or its payload can never fit
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

    def waker(
        self, parts: Partitions, on_wake: Callable[[], object], on_cancel: Callable[[str], object]
    ) -> Waker:
        """Start the worker's waker (see :mod:`fairque.worker.waker`)."""
        waker = Waker(
            self.config,
            parts.consumed,
            self.worker_id,
            lambda: (
                self.status == WorkerStatus.RUNNING
                and self.free_slots() > 0
                and not self.pacing.long_polling
            ),
            self.pacing.claim_wake,
            on_wake,
            on_cancel,
        )
        waker.start()
        return waker

    # -- cancels -----------------------------------------------------------------------------

    def note_cancel(self, task_id: str) -> Running | None:
        """A cancel of ``task_id`` was asked for: flag its run and start its grace period.
        Returns the run when this is news (the worker then stops it its own way)."""
        run = self.running.get(task_id)
        if run is None or run.abandoned or run.context.cancel_requested:
            return None
        run.context.request_cancel()
        run.cancel_deadline = time.monotonic() + self.settings.cancel_grace
        self.canceled += 1
        log.info("worker %s: task %s canceled", self.worker_id, task_id)
        return run

    def overdue_cancels(self) -> list[Running]:
        """Canceled runs still going past their grace period: abandoned (their slot freed,
        their late result dropped), as a timeout does."""
        now = time.monotonic()
        late = [
            r
            for r in self.running.values()
            if not r.abandoned
            and r.batch is None  # a batch runs as one: its canceled tasks end with it
            and r.cancel_deadline is not None
            and now >= r.cancel_deadline
        ]
        for r in late:
            r.abandoned = True
        return late

    def canceled_outcome(self, run: Running, error: BaseException | None = None) -> Outcome:
        """The end of a canceled run: reported as a failure without retry, which the server
        turns into ``canceled`` (the cancel is on the lease)."""
        why = error if error is not None else TaskCanceledError("canceled while it ran")
        return self.failure(run, why, "TaskCanceled", retry=False)

    def take_beat_cancels(self) -> set[str]:
        """Cancels the last heartbeat reported (the fallback to the cancels list)."""
        found, self._beat_cancels = self._beat_cancels, set()
        return found

    # -- progress ----------------------------------------------------------------------------

    def progress_reports(self) -> list[tuple[Task, str, str]]:
        """The running tasks' progress reports not written yet (each the latest one)."""
        reports = []
        for run in self.running.values():
            if not run.abandoned:
                report = run.context.take_report()
                if report is not None:
                    reports.append((run.task, *report))
        return reports

    def progress_op(self, parts: Partitions) -> ops.Op[None]:
        """Write the reports (one round trip; none when there is nothing new)."""
        reports = self.progress_reports()
        if reports:
            yield from control.progress(parts, reports)

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

    def long_poll(self, parts: Partitions, waker: Waker | None) -> ops.LongPoll | None:
        """This worker's long poll, if its next pop should wait for a push (``Pacing``)."""
        if self.status != WorkerStatus.RUNNING or self.batcher.open:
            return None  # an open batch is due soon: no long wait for a push
        busy = bool(self.running or self.pending)
        return self.pacing.long_poll(parts, waker, busy, self.config.redis.cluster)

    def pause_after(self, parts: Partitions, got: int, waker: Waker | None) -> float:
        """How long to wait after a pop that leased ``got`` (``Pacing.pause_after``)."""
        free = self.free_slots()
        listen = not got and free > 0 and self.long_poll(parts, waker) is None
        pause = self.pacing.pause_after(got, free, listen, waker)
        due = self.batcher.next_due()  # an open batch starts when its wait is over
        return pause if due is None else min(pause, due)

    def exchange_op(
        self,
        parts: Partitions,
        outcomes: list[Outcome],
        fetch: bool,
        wait: ops.LongPoll | None = None,
    ) -> ops.Op[list[Task]]:
        """Settle ``outcomes`` and, in one round trip, acknowledge them and lease as many
        tasks as there are free slots (none when ``fetch`` is false), waiting for a push first
        with ``wait`` (a long poll); then count and log each settled run with what the server
        answered."""
        completes, failures = self.settle(outcomes)
        count = self.free_slots() if fetch else 0
        self.pacing.asked = count
        started = time.monotonic()
        wait = self.pacing.start_exchange(wait)  # the waker leaves the tokens to a long poll
        try:
            tasks, acks = yield from routed.ack_and_pop(parts, completes, failures, count, wait)
        finally:
            self.pacing.end_exchange()
        assert self.observer is not None
        if wait is None:  # a long poll's time is the wait for a push, not a fetch
            took = time.monotonic() - started
            self.observer.exchanged(took, len(self.held_tasks()) + len(tasks))
        if outcomes:
            log_payloads = self.settings.log_payloads
            self.observer.settled([o.facts(log_payloads) for o in outcomes], acks)
        return tasks

    def take_pending(self) -> list[Outcome]:
        """The finished runs to acknowledge in the next exchange."""
        outcomes, self.pending = self.pending, []
        return outcomes

    def put_back(self, outcomes: list[Outcome]) -> None:
        """The exchange failed: keep its outcomes for the next one (the leases are still
        ours until they expire)."""
        self.restore(outcomes)
        self.pending = outcomes + self.pending

    def start(self, tasks: list[Task]) -> list[Running | Batch]:
        """Take what an exchange leased: the runs (and the filled batches) to start; a task
        whose handler is not registered fails at once (into ``pending``); a batch handler's
        task waits in its open batch."""
        jobs: list[Running | Batch] = []
        for task in tasks:
            run = self.accept(task)
            if run.handler is None:
                self.pending.append(self.unresolved(run))
            elif run.handler.batch is not None:
                full = self.batcher.add(run, run.handler.batch)
                if full is not None:
                    jobs.append(self._begin(full))
            else:
                jobs.append(run)
        self.last_contact = time.monotonic()
        return jobs

    # -- batches -----------------------------------------------------------------------------

    def due_batches(self) -> list[Batch]:
        """Open batches to start now: their wait is over (every one, once stopping)."""
        stopping = self.status != WorkerStatus.RUNNING
        return [self._begin(b) for b in self.batcher.take_due(everything=stopping)]

    def _begin(self, batch: Batch) -> Batch:
        """A batch starts: its runs' clocks (and time limit) start now; runs whose cancel was
        asked while they waited end canceled without running."""
        now = time.monotonic()
        timeout = self.settings.task_timeout
        for run in list(batch.runs):
            run.started, run.deadline = now, now + timeout if timeout else None
            if run.context.cancel_requested:
                batch.runs.remove(run)
                self.pending.append(self.canceled_outcome(run))
        return batch

    def batch_outcomes(
        self, batch: Batch, value: Any, error: BaseException | None
    ) -> list[Outcome]:
        """What became of each run of a batch: the handler's ``value`` (one result per task)
        or the ``error`` it raised (every task fails with it)."""
        if error is not None:
            return [self.failure(r, error) for r in batch.runs]
        out = []
        for run, result, failed in split_results(batch, value):
            out.append(
                self.failure(run, failed) if failed is not None else self.success(run, result)
            )
        # Each task is charged its part of the batch's run time (fairness by time).
        share = (time.monotonic() - batch.runs[0].started) / len(batch.runs) if batch.runs else 0
        for o in out:
            o.finished = o.running.started + share
        return out

    # -- the loop's health ------------------------------------------------------------------

    def tick_ok(self) -> None:
        """A pass of the loop that reached the server."""
        self.last_tick = time.monotonic()
        self.connected = True
        self._errors = 0

    def unreachable_at_start(self, exc: Exception) -> float:
        """The server is not up yet (workers may start first): how long to wait before the
        next try (0.1 s doubling to 2 s). Not ready meanwhile."""
        self._cut_off(exc)
        self._start_tries += 1
        delay = float(min(0.1 * 2 ** (self._start_tries - 1), 2.0))
        log.warning("worker %s: %s; trying again in %.1f s", self.worker_id, exc, delay)
        return delay

    def tick_failed(self, exc: Exception) -> float:
        """A pass that could not reach the server: how long to back off (50 ms doubling to
        2 s). Not ready until a round trip succeeds again."""
        self._cut_off(exc)
        self._errors += 1
        log.warning("worker %s: %s", self.worker_id, exc)
        return float(min(0.05 * 2**self._errors, ERROR_BACKOFF_MAX))

    def _cut_off(self, exc: Exception) -> None:
        self.last_tick = time.monotonic()
        self.connected = False
        self.last_error = str(exc)
        assert self.observer is not None
        self.observer.server_error()

    # -- shutdown ---------------------------------------------------------------------------

    def stopping(self) -> float:
        """Enter shutdown: the monotonic deadline of the grace period."""
        self.status = WorkerStatus.STOPPING
        return time.monotonic() + self.settings.shutdown_grace

    def grace_wait(self, deadline: float) -> float | None:
        """How long to wait for runs to finish before the next exchange; None when the
        grace period is over or nothing is held any more."""
        left = deadline - time.monotonic()
        if not self.held_tasks() or left <= 0:
            return None
        return min(0.05, left)

    def abandon_all(self) -> list[Task]:
        """The grace period is over: the tasks to hand back; late results are dropped."""
        unfinished = self.held_tasks()
        for run in self.running.values():
            run.abandoned = True
        self.running.clear()
        if unfinished:
            log.info("worker %s hands back %d unfinished tasks", self.worker_id, len(unfinished))
        return unfinished

    def stopped(self, error: Exception | None) -> None:
        if error is not None:
            log.warning("worker %s: shutdown could not reach the server: %s", self.worker_id, error)
        self.status = WorkerStatus.STOPPED
        log.info("worker %s stopped", self.worker_id)

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
            deadlines, canceled = yield from routed.beat_leases(parts, held)
            self.lost(deadlines)
            self._beat_cancels |= canceled
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
            "canceled": self.canceled,
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
        yield [call for s in parts.consumed for call in ops.leave_calls(s, self.worker_id)]

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
