"""A single push against huey's single enqueue, alternating, in one run: the peers table's
*single enqueue* column measured on its own, in a minute instead of a quarter of an hour.

Each round enqueues ``--tasks`` tasks one call each, with huey (``RedisHuey``, results off, a
no-op task; the fastest single enqueue in ``benchmarks/peers.py``) and then with fairque
(``push(Task.create(...))`` over ten users, as the peers' fairque driver does), each in a
process of its own against one embedded Valkey, the server emptied between rounds. Give
``--src`` one or more fairque checkouts to compare versions in the same run (each on
``PYTHONPATH`` in its own process; default: this one)::

    uv run python benchmarks/single_enqueue.py [--rounds 5] [--src /tmp/base --src .]

It prints each rate's median and the ratio to huey's. huey is installed into
``benchmarks/.venvs/huey`` the first time, as ``benchmarks/peers.py`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def drive_huey(url: str, n: int) -> float:
    from huey import RedisHuey

    huey = RedisHuey("enqueue-bench", url=url, results=False)

    @huey.task()
    def noop(i: int) -> None:
        pass

    for i in range(200):  # warm up: the connection, the first calls
        noop(i)
    start = time.perf_counter()
    for i in range(n):
        noop(i)
    return n / (time.perf_counter() - start)


def drive_fairque(url: str, n: int) -> float:
    from fairque import FairQueueConfig, Task, TaskQueue

    config = FairQueueConfig(redis={"url": url}, queue={"name": "enqueue-bench"})
    payload = {"n": n}
    with TaskQueue(config) as q:
        for i in range(200):  # warm up: the library loaded, the users in the round-robin
            q.push(Task.create(f"user-{i % 10}", 3, payload))
        start = time.perf_counter()
        for i in range(n):
            q.push(Task.create(f"user-{i % 10}", 3, payload))
        return n / (time.perf_counter() - start)


def run(argv: list[str], env: dict[str, str]) -> float:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, cwd="/")
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--src", action="append", help="a fairque checkout (repeatable)")
    parser.add_argument("--drive", nargs=3, metavar=("QUEUE", "URL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:  # one side of a round, in its own process
        queue, url, n = args.drive
        print((drive_huey if queue == "huey" else drive_fairque)(url, int(n)))
        return

    sys.path.insert(0, str(HERE))
    import redis
    from peers import python_for

    from fairque.server import EmbeddedServer

    huey_python = python_for("huey")
    if huey_python is None:
        raise SystemExit("huey could not be installed")
    sources = [str(Path(s).resolve()) for s in args.src or [str(HERE.parent)]]
    me = str(Path(__file__).resolve())
    rates: dict[str, list[float]] = {"huey": [], **{s: [] for s in sources}}
    with EmbeddedServer() as server:
        client = redis.Redis.from_url(server.url)
        for _ in range(args.rounds):
            base = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
            drive = ["--drive", "huey", server.url, str(args.tasks)]
            rates["huey"].append(run([huey_python, me, *drive], base))
            client.flushall()
            for src in sources:
                drive = ["--drive", "fairque", server.url, str(args.tasks)]
                rates[src].append(run([sys.executable, me, *drive], {**base, "PYTHONPATH": src}))
                client.flushall()
    huey = statistics.median(rates["huey"])
    result = {
        "params": {"rounds": args.rounds, "tasks": args.tasks},
        "per_s": {k: round(statistics.median(v)) for k, v in rates.items()},
        "rounds": {k: [round(x) for x in v] for k, v in rates.items()},
        "vs_huey": {s: round(statistics.median(rates[s]) / huey, 3) for s in sources},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
