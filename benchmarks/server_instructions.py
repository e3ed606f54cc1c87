"""What the server spends per task, counted in instructions: repeatable on a noisy machine.

CPU time per task (``INFO cpu`` around a drain) moves by a fifth from one run to the next on a
shared machine, which hides most changes to the Lua scripts. This runs ``valkey-server``
under valgrind's callgrind, which counts the instructions the server executes in user space:
the same work gives the same count (within about 1%), whatever else the machine is doing.
A drain's count moves a few percent between runs: how many tasks each of its pops takes
follows the workers' timing.
Instructions are not time (a cache miss costs more than an add), but a change that saves
instructions here saved time in every timed comparison made so far.

Two scenarios, each against a fresh server:

- ``steps``: a ``push_batch`` of 500-task calls, pops of ``--batch`` tasks from ``--users``
  users, acks of the same batches, then single pushes: instructions per task of each step;
  and, once the queue is empty, a pop that finds nothing (an idle worker's poll), per call;
- ``drain``: ``fairque bench --scenario drain --tasks N`` (threads and asyncio, one and two
  worker processes): instructions per task over the whole lifecycle, the measure of the
  README's server cost section.

Run with ``uv run python benchmarks/server_instructions.py steps --batch 8 --users 10`` or
``... drain --tasks 2000``; ``--src DIR`` measures another checkout of fairque (its
``fairque/`` on ``PYTHONPATH``) to compare two versions. Needs valgrind (``apt-get install
valgrind``); the server runs about 50 times slower under it, so keep the task counts small.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from fairque.server import find_server_binary


@contextmanager
def counted_server() -> Iterator[tuple[str, Callable[[Callable[[], Any]], int]]]:
    """A server under callgrind (counting off), and a function that counts what the server
    executes while it runs a callable."""
    work = tempfile.mkdtemp(prefix="fairque-cg-")
    port = 20000 + os.getpid() % 20000
    argv = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no",
        f"--callgrind-out-file={work}/cg.%p",
        find_server_binary(), "--port", str(port), "--save", "", "--appendonly", "no",
        "--dir", work,
    ]  # fmt: skip
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def control(*args: str) -> None:
        subprocess.run(["callgrind_control", *args, str(server.pid)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def count(step: Callable[[], Any]) -> int:
        control("-i", "on")
        control("-z")
        step()
        control("-d")
        control("-i", "off")
        dump = max(glob.glob(f"{work}/cg.*.*"), key=os.path.getmtime)
        for line in Path(dump).read_text().splitlines():
            if m := re.match(r"^totals: (\d+)", line):
                return int(m.group(1))
        raise RuntimeError(f"no totals in {dump}")

    try:
        client = redis.Redis(port=port)
        for _ in range(600):  # valgrind starts slowly
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}", count
    finally:
        server.terminate()
        server.wait()


def steps(url: str, count: Callable[[Callable[[], Any]], int], tasks: int, batch: int,
          users: int) -> dict[str, float]:  # fmt: skip
    from fairque import FairQueueConfig, Task, TaskQueue

    config = FairQueueConfig(redis={"url": url}, queue={"name": "cg"})
    with TaskQueue(config) as q:
        # Warm up: the library loaded, the users known, the per-minute buckets made.
        q.push_batch([Task.create(f"u{i % users}", 3, i) for i in range(200)])
        for leased in [q.pop_many(batch) for _ in range(200 // batch)]:
            q.complete_many([(t, None) for t in leased])
        todo = [Task.create(f"u{i % users}", 3, i) for i in range(tasks)]
        pushed = count(lambda: [q.push_batch(todo[i : i + 500]) for i in range(0, tasks, 500)])
        popped: list[list[Any]] = []
        pop = count(lambda: popped.extend(q.pop_many(batch) for _ in range(tasks // batch)))
        done = count(lambda: [q.complete_many([(t, None) for t in b]) for b in popped])
        singles = [Task.create(f"s{i % users}", 3, {"i": i}) for i in range(tasks // 4)]
        single = count(lambda: [q.push(t) for t in singles])
        while leased := q.pop_many(100):
            q.complete_many([(t, None) for t in leased])
        # What an idle worker's poll costs: a pop that finds nothing (per call, not per task).
        empty = count(lambda: [q.pop_many(batch) for _ in range(100)])
    n = (tasks // batch) * batch
    per_task = {"push_batch": pushed / tasks, "pop": pop / n, "complete": done / n}
    return {**per_task, "lifecycle": sum(per_task.values()), "single_push": single / len(singles),
            "empty_pop_per_call": empty / 100}  # fmt: skip


def drain(url: str, count: Callable[[Callable[[], Any]], int], tasks: int, src: str | None
          ) -> dict[str, Any]:  # fmt: skip
    env = {**os.environ, **({"PYTHONPATH": src} if src else {})}
    argv = [sys.executable, "-m", "fairque.cli", "--json", "bench", "--scenario", "drain",
            "--tasks", str(tasks), "--redis-url", url]  # fmt: skip
    out: list[subprocess.CompletedProcess[str]] = []

    def run() -> None:
        where = tempfile.gettempdir()
        out.append(subprocess.run(argv, check=False, capture_output=True, text=True, env=env,
                                  cwd=where))  # fmt: skip

    total = count(run)
    if out[0].returncode != 0:
        raise SystemExit(out[0].stderr[-2000:])
    return {"lifecycle": total / (4 * tasks), "drains": json.loads(out[0].stdout)["results"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=["steps", "drain"])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=8, help="tasks per pop (steps)")
    parser.add_argument("--users", type=int, default=10, help="users with work (steps)")
    parser.add_argument("--src", help="a fairque checkout to measure instead of this one")
    args = parser.parse_args()
    if args.src:  # this process imports that checkout too (steps runs in this process)
        sys.path.insert(0, args.src)
        for name in [m for m in sys.modules if m == "fairque" or m.startswith("fairque.")]:
            del sys.modules[name]
    with counted_server() as (url, count):
        if args.scenario == "steps":
            result: dict[str, Any] = steps(url, count, args.tasks, args.batch, args.users)
        else:
            result = drain(url, count, args.tasks, args.src)
    figures = {k: round(v / 1000, 1) if isinstance(v, float) else v for k, v in result.items()}
    print(json.dumps({"scenario": args.scenario, "unit": "thousand instructions per task",
                      "params": vars(args), **figures}))  # fmt: skip


if __name__ == "__main__":
    main()
