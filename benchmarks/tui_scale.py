"""The TUI on a big queue: each screen's fetch, and whether the live event tail keeps up.

1. Fills a queue with ``--tasks`` ready tasks (1,000,000) over ``--users`` users (100,000),
   in ``--tenants`` tenants (1,000; every user belongs to one), some in flight, some dead.
2. Times each screen's fetch as the TUI makes it (``fairque_tui.source.LiveSource``, one
   asyncio client, the fetch a screen awaits before it draws): the overview, one user, the
   tenants, one tenant, a task's view, the DLQ, the workers, the alerts, the event tail.
   Median and worst of ``--runs`` fetches each, 1.1 s apart (the TUI refreshes every 2 s;
   its fair shares are reused for 1 s, so each timed fetch computes them). Goal: each under
   150 ms.
3. The event tail against a steady ``--events-per-second`` (5,000) of completions for
   ``--seconds`` (10): four producer threads pop and complete in calls of 1 task (the worst
   case: a stream entry per event) and then of 8, paced; a reader does what the tail
   screen does (a read every 0.5 s, again at once while pages come back full). Reports
   events produced, events read, whether any were missed (the stream's cap), the reader's
   lag at the end, and the reader's own time per event (its capacity).

Run: ``uv run python benchmarks/tui_scale.py`` (``--json`` for the figures as JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.server import EmbeddedServer
from fairque_tui.screens.tail import READS_PER_FETCH, TAIL_SECONDS
from fairque_tui.source import TAIL_READ, LiveSource

CHUNK = 20_000
PRODUCERS = 4


def fill(config: FairQueueConfig, tasks: int, users: int, tenants: int) -> float:
    start = time.perf_counter()
    with TaskQueue(config) as q:
        for i in range(0, tasks, CHUNK):
            q.push_batch([
                Task.create(f"user-{j % users}", 1 + j % 6, None,
                            tenant=f"tenant-{j % users % tenants}", task_id=f"t{j}")
                for j in range(i, min(i + CHUNK, tasks))
            ])  # fmt: skip
        held = q.pop_many(200)  # some in flight (the running tables)
        for t in held[:20]:
            q.fail(t, "bench failure")  # some dead (the DLQ), with events in the tail
    return time.perf_counter() - start


async def timed(runs: int, fetch: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    await fetch()  # warm: the connection, the script library
    times = []
    for _ in range(runs):
        # As the TUI fetches (every 2 s by default): the source reuses fair shares for 1 s
        # only, so every timed fetch computes them afresh.
        await asyncio.sleep(1.1)
        start = time.perf_counter()
        await fetch()
        times.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


async def screens(config: FairQueueConfig, runs: int) -> dict[str, dict[str, float]]:
    source = LiveSource(config, read_only=True)
    try:
        fetches: dict[str, Callable[[], Awaitable[Any]]] = {
            "overview": lambda: source.overview("backlog"),
            "user": lambda: source.user("user-7", 0, 20),
            "tenants": source.tenants,
            "tenant": lambda: source.tenant("tenant-7"),
            "task": lambda: asyncio.gather(source.task("t123"), source.explain("t123")),
            "dlq": lambda: source.dlq(0, 100),
            "workers": source.workers,
            "alerts": source.alerts,
            "tail": lambda: source.tail(None),
        }
        return {name: await timed(runs, fetch) for name, fetch in fetches.items()}
    finally:
        await source.close()


def produce(config: FairQueueConfig, rate: float, seconds: float, per_call: int,
            stop: threading.Event, made: list[int]) -> None:  # fmt: skip
    """Complete tasks at ``rate`` per second, ``per_call`` per complete call."""
    with TaskQueue(config) as q:
        start = time.perf_counter()
        done = 0
        while not stop.is_set() and time.perf_counter() - start < seconds:
            due = int((time.perf_counter() - start) * rate)
            while done < due:
                held = q.pop_many(per_call)
                if not held:
                    break
                q.complete_many([(t, None) for t in held])
                done += len(held)
            time.sleep(0.002)
        made.append(done)


async def tail_keeps_up(config: FairQueueConfig, rate: float, seconds: float,
                        per_call: int) -> dict[str, Any]:  # fmt: skip
    source = LiveSource(config, read_only=True)
    stop = threading.Event()
    made: list[int] = []
    try:
        first = await source.tail(None)
        cursor, read, missed, reader_s = first.cursor, 0, False, 0.0
        # Four producers: one client completing a task per call cannot reach 5,000/s alone.
        producers = [threading.Thread(target=produce,
                                      args=(config, rate / PRODUCERS, seconds, per_call, stop,
                                            made))
                     for _ in range(PRODUCERS)]  # fmt: skip
        for producer in producers:
            producer.start()
        while any(p.is_alive() for p in producers):
            await asyncio.sleep(TAIL_SECONDS)
            for _ in range(READS_PER_FETCH):
                started = time.perf_counter()
                page = await source.tail(cursor)
                reader_s += time.perf_counter() - started
                cursor = page.cursor
                read += sum(1 for e in page.events if e.event == "completed")
                missed |= page.missed
                if len(page.events) < TAIL_READ:
                    break
        for producer in producers:
            producer.join()
        page = await source.tail(cursor)  # what was left after the producer stopped
        left = sum(1 for e in page.events if e.event == "completed")
        return {
            "events_per_second": rate,
            "events_per_call": per_call,
            "seconds": seconds,
            "produced": sum(made),
            "read_live": read,
            "left_at_end": left,
            "missed": missed or page.missed,
            "reader_us_per_event": round(reader_s / max(read, 1) * 1e6, 1),
            "reader_capacity_events_per_s": round(max(read, 1) / reader_s) if reader_s else None,
        }
    finally:
        stop.set()
        await source.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--events-per-second", type=float, default=5_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with EmbeddedServer() as server:
        config = FairQueueConfig(redis={"url": server.url}, queue={"name": "tui-scale",
                                                                   "max_attempts": 1})  # fmt: skip
        filled = fill(config, args.tasks, args.users, args.tenants)
        fetch = asyncio.run(screens(config, args.runs))
        tails = [asyncio.run(tail_keeps_up(config, args.events_per_second, args.seconds, n))
                 for n in (1, 8)]  # fmt: skip
    report = {"tasks": args.tasks, "users": args.users, "tenants": args.tenants,
              "fill_s": round(filled, 1), "fetch": fetch, "tail": tails}  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{args.tasks:,} tasks over {args.users:,} users in {args.tenants:,} tenants "
          f"(filled in {filled:.0f} s)")  # fmt: skip
    for name, t in fetch.items():
        print(f"  {name:9} fetch median {t['median_ms']:7.1f} ms   worst {t['max_ms']:7.1f} ms")
    for t in tails:
        print(f"  tail at {t['events_per_second']:,.0f} events/s, {t['events_per_call']} per call: "
              f"produced {t['produced']:,}, read live {t['read_live']:,}, left at the end "
              f"{t['left_at_end']:,}, missed {t['missed']}, reader {t['reader_us_per_event']} "
              f"µs/event ({t['reader_capacity_events_per_s']:,} events/s)")  # fmt: skip


if __name__ == "__main__":
    main()
