"""``HandlerThreads``: the threads an asyncio worker runs sync handlers on.

Threads are reused (starting one per task cost more than a no-op task), and daemonic: a
handler that never returns after its timeout cannot hold up the loop's or the process's
exit. A thread stuck in such a handler stays busy; the next task starts another, so the
pool holds as many threads as handlers ever ran at once, stuck ones included.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

_Job = tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any], contextvars.Context]


class HandlerThreads:
    """Run sync callables from an event loop on reused daemon threads."""

    def __init__(self, name: str = "fairque-sync-handler") -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads = 0

    def run(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """``fn(*args)`` on a thread; the future resolves on the calling loop. Cancelling it
        (a timeout, a shutdown) drops the late result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        # The handler's spans nest in the task's span: it runs in the caller's context.
        self._jobs.put((fn, args, future, contextvars.copy_context()))
        with self._lock:
            if self._idle:
                self._idle -= 1
                return future
            self._threads += 1
        threading.Thread(target=self._serve, name=self._name, daemon=True).start()
        return future

    def close(self) -> None:
        """Let every thread end once it is idle (stuck ones end with the process)."""
        with self._lock:
            count, self._threads = self._threads, 0
        for _ in range(count):
            self._jobs.put(None)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, args, future, context = job
            try:
                value, error = context.run(fn, *args), None
            except BaseException as exc:
                value, error = None, exc
            with self._lock:  # idle before the caller hears back, so its next call reuses us
                self._idle += 1
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                future.get_loop().call_soon_threadsafe(_settle, future, value, error)


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():
        return  # cancelled by a timeout or a shutdown: the late result is dropped
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
