"""The asyncio worker's threads for sync handlers: reused, results and errors delivered,
a cancelled (timed-out) call's late result dropped, the caller's context kept."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from fairque.worker.handler_threads import HandlerThreads

where: contextvars.ContextVar[str] = contextvars.ContextVar("where", default="")


async def test_threads_are_reused_and_results_come_back() -> None:
    threads = HandlerThreads()
    names = [await threads.run(threading.get_ident) for _ in range(20)]
    assert len(set(names)) == 1  # one at a time: one thread serves them all
    assert await threads.run(lambda a, b: a + b, 2, 3) == 5
    with pytest.raises(ValueError, match="boom"):
        await threads.run(_raise)
    threads.close()


async def test_calls_at_once_get_threads_of_their_own() -> None:
    threads = HandlerThreads()
    barrier = threading.Barrier(4, timeout=5)  # all four must be running together
    assert await asyncio.gather(*(threads.run(barrier.wait) for _ in range(4)))
    threads.close()


async def test_a_cancelled_call_drops_its_late_result_and_frees_its_thread() -> None:
    threads = HandlerThreads()
    release = threading.Event()
    slow = threads.run(release.wait)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await slow
    release.set()
    assert await threads.run(lambda: "next") == "next"
    threads.close()


async def test_the_handler_runs_in_the_callers_context() -> None:
    threads = HandlerThreads()
    where.set("task span")
    assert await threads.run(where.get) == "task span"
    threads.close()


def _raise() -> None:
    raise ValueError("boom")
