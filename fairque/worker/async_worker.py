"""``AsyncWorker``: runs up to ``concurrency`` handlers as asyncio tasks; a timeout cancels
the task. Sync handlers run on reused daemon threads (``HandlerThreads``). Signal handling is
left to the entry point."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from typing import Any

from fairque.core.exceptions import FairQueueError, ServerUnreachable
from fairque.queue import AsyncTaskQueue
from fairque.queue.ops import LongPoll
from fairque.tracing import process_span
from fairque.worker.base import WorkerBase
from fairque.worker.batches import Batch
from fairque.worker.context import bind
from fairque.worker.handler_threads import HandlerThreads
from fairque.worker.runs import Outcome, Running, WorkerStatus
from fairque.worker.waker import Waker

log = logging.getLogger("fairque.worker")


class AsyncWorker(WorkerBase):
    """The asyncio worker: up to ``concurrency`` handlers as asyncio tasks (sync handlers in
    threads); a timeout cancels the task. ``await run()`` until ``stop()`` (safe from any
    thread and from signal handlers). Arguments as :class:`~fairque.worker.base.WorkerBase`.

    Example::

        await AsyncWorker(config, handler=my_async_handler, worker_id="w1").run()
    """

    kind = "async"
    queue_class = AsyncTaskQueue
    queue: AsyncTaskQueue

    def _setup(self) -> None:
        self._threads = HandlerThreads()
        self._stop_requested = threading.Event()
        self._wake: asyncio.Event | None = None  # set once, by stop()
        self._work: asyncio.Event | None = None  # the waker: a push is waiting
        self._loop: asyncio.AbstractEventLoop | None = None
        self._results: asyncio.Queue[Outcome] | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._waker: Waker | None = None
        self._runner: asyncio.Task[None] | None = None  # start(): run() as a task
        self._burst = False

    def stop(self) -> None:
        """Ask the worker to stop (safe from any thread and from signal handlers)."""
        self._stop_requested.set()
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _execute(self, run: Running) -> None:
        handler = run.handler
        assert handler is not None and self._results is not None
        bind(run.context)  # this asyncio task's own context: the handler reaches it
        try:
            async with asyncio.timeout(self.core.settings.task_timeout):
                with process_span(run.task, self.config.queue.name):
                    if handler.is_async:
                        result = await handler.process(run.task)
                    else:
                        result = await self._threads.run(handler.process, run.task)
        except TimeoutError:
            self.core.note_timeout(run)
            await _hook(handler.on_timeout, run.task)
            outcome = self.core.timeout_outcome(run)
        except asyncio.CancelledError:
            if not (run.context.cancel_requested and self.core.status == WorkerStatus.RUNNING):
                return  # shutdown handed the task back
            outcome = self.core.canceled_outcome(run)  # the cancel asked from anywhere
        except Exception as exc:
            await _hook(handler.on_failure, run.task, exc)
            outcome = self.core.failure(run, exc)
        else:
            await _hook(handler.on_success, run.task, result)
            outcome = self.core.success(run, result)
        self._tasks.pop(run.task.task_id, None)
        await self._results.put(outcome)

    async def run(self, *, burst: bool = False) -> None:
        """Serve tasks until :meth:`stop` (or, with ``burst``, until the worker's scope has
        no ready task and nothing runs); then finish or hand back what is held."""
        self._burst = burst
        with self.probes():
            await self._run()

    def start(self) -> AsyncWorker:
        """Run as a task of the running event loop (an application embedding a worker, e.g.
        in a FastAPI lifespan); :meth:`stop` and ``await`` :meth:`join` end it. Returns the
        worker."""
        if self._runner is not None:
            raise RuntimeError("this worker was started already")
        self._runner = asyncio.get_running_loop().create_task(self.run())
        return self

    async def join(self) -> None:
        """Wait for a started worker to stop (re-raising what ended it, if anything)."""
        if self._runner is not None:
            await self._runner

    async def __aenter__(self) -> AsyncWorker:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()
        await self.join()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._work = asyncio.Event()
        self._results = asyncio.Queue()
        if not await self._open():
            return
        loop = self._loop
        work = self._work
        self._waker = self.core.waker(
            self.queue.parts,
            on_wake=lambda: loop.call_soon_threadsafe(work.set),
            on_cancel=lambda task_id: loop.call_soon_threadsafe(self._cancel, task_id),
        )
        self.core.status = WorkerStatus.RUNNING
        log.info(
            "async worker %s started (%d at once)", self.worker_id, self.core.settings.concurrency
        )
        try:
            while not self._stop_requested.is_set():
                try:
                    await self._tick()
                    self.core.tick_ok()
                except FairQueueError as exc:
                    await self._sleep(self.core.tick_failed(exc))  # a stop() cuts it short
        finally:
            await self._shutdown()

    async def _open(self) -> bool:
        """Open the queue, waiting for a server that is not up yet (a worker may start before
        it, or while it restarts); False when stopped meanwhile."""
        while not self._stop_requested.is_set():
            try:
                await self.queue.open()
                return True
            except ServerUnreachable as exc:
                delay = self.core.unreachable_at_start(exc)  # logs why and how long
                await self._sleep(delay)  # a stop() cuts the wait short
        await self.queue.close()
        self.core.status = WorkerStatus.STOPPED
        return False

    def _cancel(self, task_id: str) -> None:
        """A cancel of a task this worker runs was asked for: an asyncio handler is cancelled
        at once (``CancelledError``); a sync one sees ``cancel_requested`` and is cut off
        after ``cancel_grace`` (its thread's late result dropped)."""
        run = self.core.note_cancel(task_id)
        job = self._tasks.get(task_id)
        if run is None or job is None or run.handler is None or run.batch is not None:
            return  # a batch's task ends canceled with its batch (the cancel is on its lease)
        if run.handler.is_async:
            job.cancel()
        else:
            asyncio.get_running_loop().call_later(self.core.settings.cancel_grace, job.cancel)

    async def _sleep(self, seconds: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _collect(self, timeout: float) -> None:
        """Gather finished runs, waiting up to ``timeout`` for the first one (a stop request
        cuts the wait short, except during shutdown when results are what we wait for)."""
        assert self._results is not None and self._wake is not None and self._work is not None
        if timeout > 0 and self._results.empty() and not self._work.is_set():
            waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._results.get())]
            if self.core.status == WorkerStatus.RUNNING:
                waiters.append(asyncio.ensure_future(self._wake.wait()))
                waiters.append(asyncio.ensure_future(self._work.wait()))
            done, _ = await asyncio.wait(
                waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            for w in waiters:
                w.cancel()
            if waiters[0] in done:
                self.core.pending.append(waiters[0].result())
        while not self._results.empty():
            self.core.pending.append(self._results.get_nowait())

    async def _exchange(self, fetch: bool, wait: LongPoll | None = None) -> int:
        """Acknowledge what finished and lease more in one round trip (after waiting for a
        push, with ``wait``); returns how many."""
        outcomes = self.core.take_pending()
        try:
            op = self.core.exchange_op(self.queue.parts, outcomes, fetch, wait)
            tasks = await self.queue.run(op)
        except FairQueueError:
            self.core.put_back(outcomes)
            raise
        for job in self.core.start(tasks):
            self._launch(job)
        return len(tasks)

    def _launch(self, job: Running | Batch) -> None:
        if isinstance(job, Batch):
            if job.runs:
                runner = asyncio.create_task(self._execute_batch(job))
                for task_id in job.task_ids:
                    self._tasks[task_id] = runner
        else:
            self._tasks[job.task.task_id] = asyncio.create_task(self._execute(job))

    async def _execute_batch(self, batch: Batch) -> None:
        handler = batch.runs[0].handler
        assert handler is not None and self._results is not None
        tasks = [r.task for r in batch.runs]
        try:
            async with asyncio.timeout(self.core.settings.task_timeout):
                if handler.is_async:
                    value = await handler.process(tasks)
                else:
                    value = await self._threads.run(handler.process, tasks)
        except TimeoutError:
            for run in batch.runs:
                self.core.note_timeout(run)
            outcomes = [self.core.timeout_outcome(run) for run in batch.runs]
        except asyncio.CancelledError:
            return  # shutdown handed the tasks back (a batch is never canceled as a whole)
        except Exception as exc:
            outcomes = self.core.batch_outcomes(batch, None, exc)
        else:
            outcomes = self.core.batch_outcomes(batch, value, None)
        for task_id in batch.task_ids:
            self._tasks.pop(task_id, None)
        for outcome in outcomes:
            await self._results.put(outcome)

    async def _beat(self) -> None:
        if self.core.beat_due():
            await self.queue.run(self.core.beat_op(self.queue.parts))
            self.core.beat_done()
            for task_id in self.core.take_beat_cancels():
                self._cancel(task_id)
        await self.queue.run(self.core.progress_op(self.queue.parts))

    async def _tick(self) -> None:
        await self._collect(0)
        for batch in self.core.due_batches():
            self._launch(batch)
        await self._beat()
        assert self._work is not None
        self._work.clear()  # a push from now on wakes the wait after this pop
        wait = self.core.long_poll(self.queue.parts, self._waker)
        got = await self._exchange(fetch=True, wait=wait)
        if self._burst and self.core.drained(got):
            self.stop()
            return
        pause = self.core.pause_after(self.queue.parts, got, self._waker)
        if pause:
            await self._collect(pause)

    async def _shutdown(self) -> None:
        deadline = self.core.stopping()
        error = None
        try:
            while (wait := self.core.grace_wait(deadline)) is not None:
                for batch in self.core.due_batches():  # open batches run now (stopping)
                    self._launch(batch)
                await self._collect(wait)
                await self._exchange(fetch=False)
                await self._beat()
            await self._collect(0)
            await self._exchange(fetch=False)
            for t in list(self._tasks.values()):
                t.cancel()
            self._tasks.clear()
            unfinished = self.core.abandon_all()
            if unfinished:
                await self.queue.release(unfinished)
            await self.queue.run(self.core.exit_op(self.queue.parts))
        except FairQueueError as exc:
            error = exc
        finally:
            if self._waker is not None:
                await asyncio.to_thread(self._waker.stop)
            self._threads.close()
            await self.queue.close()
            self.core.stopped(error)


async def _hook(fn: Any, *args: Any) -> None:
    """Run a handler hook (sync or async); a failing hook is logged, never fatal."""
    if fn is None:
        return
    try:
        result = fn(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("handler hook %s failed", getattr(fn, "__name__", fn))
