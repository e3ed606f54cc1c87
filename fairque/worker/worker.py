"""``Worker``: runs handlers on ``concurrency`` threads; one loop fetches, acknowledges in
batches, beats and enforces timeouts. Signal handling is left to the entry point (the CLI).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Any

from fairque.core.exceptions import FairQueueError, ServerUnreachable
from fairque.queue import TaskQueue
from fairque.queue.ops import LongPoll
from fairque.tracing import process_span
from fairque.worker.base import WorkerBase
from fairque.worker.batches import Batch
from fairque.worker.context import bind, unbind
from fairque.worker.runs import Outcome, Running, WorkerStatus
from fairque.worker.waker import Waker

log = logging.getLogger("fairque.worker")


class Worker(WorkerBase):
    """A thread-pool worker: ``concurrency`` threads run handlers, one loop leases, acks in
    batches, beats and enforces timeouts. ``run()`` blocks until ``stop()`` (thread- and
    signal-safe); the caller installs signal handlers (the CLI does).

    A task past ``task_timeout`` is failed at once and its thread slot handed to a fresh
    thread; the stuck thread's late result is dropped (the lease token no longer matches).
    Arguments as :class:`~fairque.worker.base.WorkerBase`.

    Example::

        Worker(config, handler=lambda task: print(task.payload), worker_id="w1").run()
    """

    kind = "sync"
    queue_class = TaskQueue
    queue: TaskQueue

    def _setup(self) -> None:
        self._stopping = False
        self._jobs: queue.SimpleQueue[Running | Batch | None] = queue.SimpleQueue()
        # Finished runs; ``None`` only wakes the loop. SimpleQueue.put is reentrant, so
        # ``stop()`` may use it from a signal handler (an Event or Lock there can deadlock).
        # A task id: its cancel was asked for (from the waker's thread).
        self._results: queue.SimpleQueue[Outcome | str | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._waker: Waker | None = None
        self._thread: threading.Thread | None = None  # start(): run() in the background
        self._burst = False

    def stop(self) -> None:
        """Ask the worker to stop: no more fetching, finish within the grace period.

        Safe to call from any thread and from a signal handler."""
        self._stopping = True
        self._results.put(None)

    # -- runner threads -----------------------------------------------------------------------

    def _spawn_runner(self) -> None:
        t = threading.Thread(target=self._runner, name=f"fairque-{self.worker_id}", daemon=True)
        t.start()
        self._threads.append(t)

    def _runner(self) -> None:
        while (job := self._jobs.get()) is not None:
            outcomes = self._execute_batch(job) if isinstance(job, Batch) else [self._execute(job)]
            runs = job.runs if isinstance(job, Batch) else [job]
            if any(r.abandoned for r in runs):
                return  # timed out: a fresh thread already took this one's place
            for outcome in outcomes:
                self._results.put(outcome)

    def _execute_batch(self, batch: Batch) -> list[Outcome]:
        handler = batch.runs[0].handler
        assert handler is not None
        try:
            tasks = [r.task for r in batch.runs]
            value = (
                asyncio.run(handler.process(tasks)) if handler.is_async else handler.process(tasks)
            )
        except Exception as exc:
            return self.core.batch_outcomes(batch, None, exc)
        return self.core.batch_outcomes(batch, value, None)

    def _execute(self, run: Running) -> Outcome:
        handler = run.handler
        assert handler is not None
        token = bind(run.context)
        try:
            with process_span(run.task, self.config.queue.name):
                if handler.is_async:
                    result = asyncio.run(handler.process(run.task))
                else:
                    result = handler.process(run.task)
        except Exception as exc:
            _hook(handler.on_failure, run.task, exc)
            return self.core.failure(run, exc)
        finally:
            unbind(token)
        _hook(handler.on_success, run.task, result)
        return self.core.success(run, result)

    # -- the loop ---------------------------------------------------------------------------

    def run(self, *, burst: bool = False) -> None:
        """Serve tasks until :meth:`stop` (or, with ``burst``, until the worker's scope has
        no ready task and nothing runs: scripts and tests); then finish or hand back what is
        held."""
        self._burst = burst
        with self.probes():
            self._run()

    def start(self) -> Worker:
        """Run in a background thread (an application embedding a worker); :meth:`stop` and
        :meth:`join` end it. Installs no signal handler. Returns the worker."""
        if self._thread is not None:
            raise RuntimeError("this worker was started already")
        self._thread = threading.Thread(target=self.run, name=f"fairque-worker-{self.worker_id}")
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> bool:
        """Wait for a started worker to stop; returns whether it has."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.join()

    def _open(self) -> bool:
        """Open the queue, waiting for a server that is not up yet (a worker may start before
        it, or while it restarts); False when stopped meanwhile."""
        while not self._stopping:
            try:
                self.queue.open()
                return True
            except ServerUnreachable as exc:
                delay = self.core.unreachable_at_start(exc)  # logs why and how long
                self._collect(delay)  # a stop() cuts the wait short
        self.queue.close()
        self.core.status = WorkerStatus.STOPPED
        return False

    def _run(self) -> None:
        if not self._open():
            return
        for _ in range(self.core.settings.concurrency):
            self._spawn_runner()
        self._waker = self.core.waker(
            self.queue.parts, on_wake=lambda: self._results.put(None), on_cancel=self._results.put
        )
        self.core.status = WorkerStatus.RUNNING
        log.info("worker %s started (%d threads)", self.worker_id, self.core.settings.concurrency)
        try:
            while not self._stopping:
                try:
                    self._tick()
                    self.core.tick_ok()
                except FairQueueError as exc:
                    self._collect(self.core.tick_failed(exc))  # a stop() cuts the wait short
        finally:
            self._shutdown()

    def _collect(self, timeout: float) -> None:
        """Gather finished runs, waiting up to ``timeout`` for the first (or a stop)."""
        try:
            first = (
                self._results.get(timeout=timeout) if timeout > 0 else self._results.get_nowait()
            )
            while True:
                if isinstance(first, str):
                    self.core.note_cancel(first)  # the handler sees it; _expire ends it
                elif first is not None:
                    self.core.pending.append(first)
                first = self._results.get_nowait()
        except queue.Empty:
            pass

    def _expire(self) -> None:
        """Fail the runs past their time limit and give their slots to fresh threads (one per
        thread they held: a batch's runs share one)."""
        threads: set[int] = set()
        for run in self.core.expired():
            self.core.pending.append(self.core.timeout_outcome(run))
            _hook(run.handler.on_timeout if run.handler else None, run.task)
            threads.add(id(run.batch or run))
        for _ in threads:
            self._spawn_runner()
        for run in self.core.overdue_cancels():
            self.core.pending.append(self.core.canceled_outcome(run))
            self._spawn_runner()

    def _exchange(self, fetch: bool, wait: LongPoll | None = None) -> int:
        """Acknowledge what finished and lease more in one round trip (after waiting for a
        push, with ``wait``); returns how many."""
        outcomes = self.core.take_pending()
        try:
            op = self.core.exchange_op(self.queue.parts, outcomes, fetch, wait)
            tasks = self.queue.run(op)
        except FairQueueError:
            self.core.put_back(outcomes)
            raise
        for job in self.core.start(tasks):
            self._jobs.put(job)
        return len(tasks)

    def _start_due_batches(self) -> None:
        for batch in self.core.due_batches():
            if batch.runs:
                self._jobs.put(batch)

    def _beat(self) -> None:
        if self.core.beat_due():
            self.queue.run(self.core.beat_op(self.queue.parts))
            self.core.beat_done()
            for task_id in self.core.take_beat_cancels():
                self.core.note_cancel(task_id)
        self.queue.run(self.core.progress_op(self.queue.parts))

    def _tick(self) -> None:
        self._collect(0)
        self._expire()
        self._start_due_batches()
        self._beat()
        wait = self.core.long_poll(self.queue.parts, self._waker)
        got = self._exchange(fetch=True, wait=wait)
        if self._burst and self.core.drained(got):
            self.stop()
            return
        pause = self.core.pause_after(self.queue.parts, got, self._waker)
        if pause:
            self._collect(pause)

    def _shutdown(self) -> None:
        deadline = self.core.stopping()
        error = None
        try:
            while (wait := self.core.grace_wait(deadline)) is not None:
                self._start_due_batches()  # open batches run now (stopping)
                self._collect(wait)
                self._expire()
                self._exchange(fetch=False)
                self._beat()
            self._collect(0)
            self._exchange(fetch=False)
            unfinished = self.core.abandon_all()  # their threads' late results are dropped
            if unfinished:
                self.queue.release(unfinished)
            self.queue.run(self.core.exit_op(self.queue.parts))
        except FairQueueError as exc:
            error = exc
        finally:
            if self._waker is not None:
                self._waker.stop()
            for _ in self._threads:
                self._jobs.put(None)
            self.queue.close()
            self.core.stopped(error)


def _hook(fn: Any, *args: Any) -> None:
    """Run a handler hook; a failing hook is logged, never fatal."""
    if fn is None:
        return
    try:
        result = fn(*args)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    except Exception:
        log.exception("handler hook %s failed", getattr(fn, "__name__", fn))
