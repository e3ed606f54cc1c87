"""The server's CPU time per task over a whole lifecycle, several fairque versions alternating
in one run: the measure the performance goals are stated in (``INFO cpu`` around
``fairque bench --scenario drain``), made comparable on a shared machine.

On this kind of machine the same code's figure moves by half between days (a slower
neighbour, another CPU clock), so one version's microseconds mean little alone; measured in
the same run, alternating with another version, the ratio holds. Each measurement starts a
fresh embedded Valkey, runs ``fairque --json bench --scenario drain --tasks N`` against it
(threads and asyncio, one and two worker processes: 4N tasks pushed, popped and
acknowledged), and reads the server's CPU (user + system) before and after, and its script
time (``INFO commandstats``)::

    uv run python benchmarks/server_cpu.py [--tasks 10000] [--rounds 5] \
        [--src /tmp/old-venv/bin/python --src .]

``--src`` (repeatable, in the order given) is a checkout, whose ``fairque/`` runs on
``PYTHONPATH`` with this interpreter, or an interpreter with its own fairque installed, for a
version whose dependencies differ from this one's (``uv venv /tmp/old-venv``, then
``VIRTUAL_ENV=/tmp/old-venv uv pip install /tmp/old-checkout``). Without it, this checkout.
It prints each version's per-round figures and medians, and against the first version the
median of the rounds' ratios (each round's versions ran minutes apart, so their ratio
carries less of the machine's drift than a ratio of medians).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Version:
    """How to run one fairque version's CLI."""

    label: str
    python: str
    pythonpath: str | None


def cpu_seconds(client: Any) -> tuple[float, float]:
    info = client.info("cpu")
    return float(info["used_cpu_user"]), float(info["used_cpu_sys"])


def script_usec(client: Any) -> float:
    """Microseconds the server spent in script calls (FCALL, or EVALSHA/EVAL for a version
    that sends its scripts that way)."""
    stats = client.info("commandstats")
    names = ("cmdstat_fcall", "cmdstat_evalsha", "cmdstat_eval")
    return float(sum(stats.get(n, {}).get("usec", 0) for n in names))


def measure(version: Version, tasks: int) -> dict[str, float]:
    """One drain scenario against a fresh server: µs of server CPU per task."""
    import redis

    from fairque.server import EmbeddedServer

    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env = {k: v for k, v in env.items() if not k.startswith("FAIRQUE_")}
    if version.pythonpath:
        env["PYTHONPATH"] = version.pythonpath
    with EmbeddedServer() as server:
        client = redis.Redis.from_url(server.url)
        client.config_resetstat()
        user0, sys0 = cpu_seconds(client)
        argv = [version.python, "-m", "fairque.cli", "--json", "bench", "--scenario", "drain",
                "--tasks", str(tasks), "--redis-url", server.url]  # fmt: skip
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, cwd="/")
        user1, sys1 = cpu_seconds(client)
        scripts = script_usec(client)
        client.close()
    if done.returncode != 0:
        raise SystemExit(f"{version.label}: {done.stderr[-2000:]}")
    drains = json.loads(done.stdout)["results"]["e2e_per_s"]
    n = tasks * len(drains)  # every drain pushes, pops and acknowledges `tasks` tasks
    return {
        "user_us": (user1 - user0) / n * 1e6,
        "sys_us": (sys1 - sys0) / n * 1e6,
        "total_us": ((user1 - user0) + (sys1 - sys0)) / n * 1e6,
        "script_us": scripts / n,
    }


def paired_ratio(runs: list[dict[str, float]], first: list[dict[str, float]]) -> float:
    """The median of each round's ratio to the first version's figure in the same round."""
    ratios = [r["total_us"] / f["total_us"] for r, f in zip(runs, first, strict=True)]
    return round(statistics.median(ratios), 3)


def version_of(src: str) -> Version:
    """A checkout (a directory), or an interpreter with its own fairque installed."""
    path = Path(src).resolve()
    if path.is_dir():
        return Version(str(path), sys.executable, str(path))
    return Version(src, src, None)  # not resolved: a virtualenv's python is a symlink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--src", action="append", help="a checkout or an interpreter (repeatable)")
    args = parser.parse_args()
    versions = [version_of(s) for s in args.src or [str(HERE.parent)]]
    rounds: dict[str, list[dict[str, float]]] = {v.label: [] for v in versions}
    for _ in range(args.rounds):
        for version in versions:
            rounds[version.label].append(measure(version, args.tasks))
    medians = {
        label: {k: round(statistics.median(r[k] for r in runs), 1) for k in runs[0]}
        for label, runs in rounds.items()
    }
    first = rounds[versions[0].label]
    result = {
        "params": {"tasks": args.tasks, "rounds": args.rounds},
        "unit": "µs of server CPU per task (push, pop and acknowledge)",
        "rounds": {k: [round(r["total_us"], 1) for r in v] for k, v in rounds.items()},
        "median": medians,
        "vs_first": {label: paired_ratio(runs, first) for label, runs in rounds.items()},
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
