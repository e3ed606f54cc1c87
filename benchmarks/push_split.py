"""Where a single push's time goes, next to the baseline it is compared with.

``fairque bench --scenario throughput`` reports ``push_vs_evalsha``: pushes per second from
one client against sequential EVALSHAs of a one-``LPUSH`` script. This splits both into wall
time, the client's CPU time and the server's script time (``INFO commandstats``
``usec_per_call``), per call, in ``--rounds`` interleaved rounds against a fresh embedded
Valkey::

    uv run python benchmarks/push_split.py [--calls 3000] [--rounds 3]

The client's CPU time includes redis-py's (encoding, the socket calls, parsing the reply).
fairque sends its script calls over connections of its own, past redis-py's pool and its
per-command checks (``fairque/queue/async_script_connections.py``); the third row,
``evalsha_conn``, is the baseline sent that way too, so the push's own cost (its script,
fairque's client code) is the difference between the ``push`` and ``evalsha_conn`` rows, and
what the transport saves the difference between ``evalsha`` and ``evalsha_conn``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.bench.throughput import BASELINE_LUA  # the same baseline as push_vs_evalsha
from fairque.queue.script_connections import ScriptConnections
from fairque.server import EmbeddedServer


def timed(client: Any, fn: Callable[[], None], n: int, command: str) -> tuple[float, ...]:
    """Wall time, client CPU and server script time of ``fn``'s ``n`` calls, µs per call."""
    client.config_resetstat()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stats = client.info("commandstats")
    # A queue configured with redis.scripts = "eval" pushes by EVALSHA too.
    script_us = stats.get(command, stats.get("cmdstat_evalsha", {})).get("usec", 0)
    return wall / n * 1e6, cpu / n * 1e6, script_us / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = args.calls
    with EmbeddedServer() as server:
        config = FairQueueConfig(redis={"url": server.url}, queue={"name": "split"})
        with TaskQueue(config) as q:
            client = q.client
            script = client.register_script(BASELINE_LUA)
            # Warm up: the library loaded, the users in the round-robin.
            q.push_batch([Task.create(f"user-{i % 10}", 3, i) for i in range(100)])
            script(keys=["split-baseline"], args=[0])
            direct = ScriptConnections(client.connection_pool)
            print("per call, µs            wall  client cpu  server script")
            for r in range(args.rounds):
                tasks = [Task.create(f"user-{i % 10}", 3, {"i": i}) for i in range(n)]
                rows = {
                    "evalsha": timed(client, lambda: [script(keys=["split-baseline"], args=[i])
                                                      for i in range(n)], n, "cmdstat_evalsha"),
                    "evalsha_conn": timed(client, lambda: [direct.call(
                        ("EVALSHA", script.sha, 1, "split-baseline", i)) for i in range(n)],
                        n, "cmdstat_evalsha"),
                    "push": timed(client, partial(list, map(q.push, tasks)), n, "cmdstat_fcall"),
                }  # fmt: skip
                for name, (wall, cpu, script_us) in rows.items():
                    print(f"round {r + 1} {name:12s} {wall:7.1f} {cpu:11.1f} {script_us:14.1f}")
            direct.close()


if __name__ == "__main__":
    main()
