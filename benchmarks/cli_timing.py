"""How long the command line takes where an operator waits on it (medians, wall clock):

- ``fairque --help``;
- completing a command name (``fairque pa<TAB>``) and a user name (``fairque pause --user
  ac<TAB>``), as the shell runs them (``_FAIRQUE_COMPLETE``): a user name both with the
  names cached by an earlier TAB (``complete_user``) and with no cache, so the server is
  asked while the shell waits (``complete_user_uncached``, the first TAB in a new setting);
- a worker's first task: from starting ``fairque worker`` to the first task it completes
  (the handler appends to a file; the time is read when that file appears).

Each against a fresh embedded Valkey. Run with ``uv run python benchmarks/cli_timing.py``
(``--runs N``, ``--json``). Goals (docs/benchmarks.md): help and completion < 150 ms and
< 250 ms, the first task < 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fairque import FairQueueConfig, Task, TaskQueue
from fairque.server import EmbeddedServer

# The console script, as a shell runs it (completion keys on its name).
FAIRQUE = [str(Path(sys.executable).parent / "fairque")]
HANDLER = """
import os, pathlib
def handle(task):
    pathlib.Path(os.environ["FIRST_TASK_FILE"]).write_text(str(task.payload))
"""


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, done.stdout


def complete_env(words: str, cword: int, cache: str | None = None) -> dict[str, str]:
    return {
        **os.environ,
        **({"XDG_CACHE_HOME": cache} if cache else {}),
        "_FAIRQUE_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
    }


def first_task(url: str, workdir: Path) -> float:
    """Start a worker with one task waiting; seconds until it has completed it."""
    marker = workdir / "first"
    marker.unlink(missing_ok=True)
    env = {**os.environ, "FIRST_TASK_FILE": str(marker), "PYTHONPATH": str(workdir)}
    config = FairQueueConfig(redis={"url": url}, queue={"name": "cli"})
    with TaskQueue(config) as q:
        q.push(Task.create("acme", 3, "go"))
    argv = [*FAIRQUE, "--redis-url", url, "--queue", "cli", "worker", "--handler",
            "firsttask:handle", "--concurrency", "1"]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not marker.exists():
            if time.perf_counter() - start > 30:
                raise RuntimeError("the worker did not run its first task within 30 s")
            time.sleep(0.002)
        return time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        # Each process then compiles every module whose .pyc is stale (any file edited since
        # it was last compiled): tens of ms per start that an installed package never pays.
        print("PYTHONDONTWRITEBYTECODE is set: run `PYTHONDONTWRITEBYTECODE= python -m "
              "compileall -q fairque` first, or stale bytecode is compiled on every start",
              file=sys.stderr)  # fmt: skip
    results: dict[str, list[float]] = {"help": [], "complete_command": [], "complete_user": [],
                                       "complete_user_uncached": [],
                                       "worker_first_task": []}  # fmt: skip
    with EmbeddedServer() as server, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "firsttask.py").write_text(HANDLER)
        config = FairQueueConfig(redis={"url": server.url}, queue={"name": "cli"})
        with TaskQueue(config) as q:
            q.push_batch([Task.create(f"acme-{i}", 3, i) for i in range(50)])
        base = f"fairque --redis-url {server.url} --queue cli"
        for _ in range(args.runs):
            results["help"].append(timed([*FAIRQUE, "--help"], dict(os.environ))[0])
            took, out = timed(FAIRQUE, complete_env("fairque pa", 1))
            assert "pause" in out, out
            results["complete_command"].append(took)
            words = f"{base} pause --user ac"
            with tempfile.TemporaryDirectory() as cache:  # nothing cached yet
                took, out = timed(FAIRQUE, complete_env(words, 7, cache))
                assert "acme-1" in out, out
                results["complete_user_uncached"].append(took)
                took, out = timed(FAIRQUE, complete_env(words, 7, cache))
                assert "acme-1" in out, out
                results["complete_user"].append(took)
        for _ in range(max(3, args.runs // 2)):
            results["worker_first_task"].append(first_task(server.url, workdir))
    medians = {k: round(statistics.median(v) * 1000, 1) for k, v in results.items()}
    if args.json:
        print(json.dumps({"median_ms": medians, "runs": args.runs}))
        return
    for name, ms in medians.items():
        print(f"{name:<20} {ms:8.1f} ms (median of {len(results[name])})")


if __name__ == "__main__":
    main()
