"""fairque against other Python queues: the same no-op drain, same server, same process count.

    uv run python benchmarks/peers.py [--tasks 20000] [--processes 1,2] [--json]

Each peer is installed into its own virtualenv under ``benchmarks/.venvs/`` (their pins clash:
arq needs redis<6, taskiq-redis must match taskiq). Every driver in ``benchmarks/peers/``
enqueues N tasks that each INCR a counter, starts the worker processes, and reports
(N - 1) / (time of the last INCR - time of the first), so enqueueing and start-up are not
counted for anyone. The first 2,000 tasks of each drain are enqueued one call each (the
peer's plain enqueue; fairque's ``push``) and timed: the single-enqueue rate.
Each run gets a fresh embedded Valkey; all run one after another, in one run: ``--repeat``
rounds (3 by default), each round every peer and process count once, so a slow spell of a
shared machine hits every peer alike; each figure is the median of its rounds. Two rates per
run: first task to last (start-up not counted) and spawn to last task (start-up counted).
Every peer on redis-py has hiredis, as fairque does; the JSON names each peer's client
libraries.

Every peer runs with its own documented throughput settings and no per-task log lines
(huey's consumer with ``-q``, rq at WARNING, taskiq ``--log-level WARNING``; arq and SAQ
log jobs at INFO through loggers nobody configured here). The JSON records each peer's
settings and concurrency.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from fairque.server import EmbeddedServer

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venvs"
# peer -> what to pip-install into its own virtualenv ("" = the project's own environment)
PEERS: dict[str, str] = {
    "fairque": "",
    "fairque_async": "",  # the asyncio worker, 32 at once
    "fairque_observed": "",  # probes, run metrics and JSON logs on (overhead check)
    "fairque_tasklog": "",  # the same with a JSON line per completed task
    # Every peer on redis-py gets hiredis, the parser fairque uses (redis[hiredis]).
    "huey": "huey redis hiredis",
    "taskiq": "taskiq taskiq-redis hiredis",
    "saq": "saq redis hiredis typing_extensions",
    "dramatiq": "dramatiq[redis] hiredis",
    "arq": "arq hiredis",
    "streaq": "streaq redis hiredis",
    "rq": "rq hiredis",
}


def uv() -> list[str]:
    return ["uv"] if shutil.which("uv") else [sys.executable, "-m", "uv"]


def python_for(peer: str) -> str | None:
    """The interpreter that has ``peer`` installed (installing it the first time)."""
    if not PEERS[peer]:
        return sys.executable
    venv = VENVS / peer
    py = venv / "bin" / "python"
    wanted = venv / "requirements.txt"  # what it was made with: made again when that changes
    if py.exists() and (not wanted.exists() or wanted.read_text() != PEERS[peer]):
        shutil.rmtree(venv)
    if not py.exists():
        print(f"installing {peer} into {venv} ...", file=sys.stderr)
        made = subprocess.run(
            [*uv(), "venv", "-q", "--python", sys.executable, str(venv)], check=False
        )
        env = {**os.environ, "VIRTUAL_ENV": str(venv)}
        got = subprocess.run(
            [*uv(), "pip", "install", "-q", *PEERS[peer].split()], env=env, check=False
        )
        if made.returncode or got.returncode:
            print(f"{peer}: could not be installed; skipped", file=sys.stderr)
            shutil.rmtree(venv, ignore_errors=True)
            return None
        wanted.write_text(PEERS[peer])
    return str(py)


def run_driver(peer: str, py: str, url: str, tasks: int, processes: int) -> dict[str, Any] | None:
    env = {**os.environ, "PEERBENCH_URL": url, "PYTHONPATH": str(HERE / "peers")}
    env.pop("VIRTUAL_ENV", None)
    script = HERE / "peers" / f"{peer}_drain.py"
    proc = subprocess.run(
        [py, str(script), url, str(tasks), str(processes)],
        cwd=HERE / "peers", env=env, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        print(
            f"{peer} x{processes} failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr
        )
        return None
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@dataclass
class Collected:
    """Every run's figures, by (peer, process count) or peer."""

    runs: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    spawn_runs: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    enqueues: dict[str, list[int]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    clients: dict[str, dict[str, str]] = field(default_factory=dict)
    settings: dict[str, dict[str, str]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def collect(peers: list[str], counts: list[int], repeat: int, tasks: int) -> Collected:
    """``repeat`` rounds of every peer at every process count, each on a fresh server."""
    out = Collected()
    pythons = {peer: python_for(peer) for peer in peers}
    for round_no in range(repeat):
        for peer in peers:
            py = pythons[peer]
            if py is None:
                continue
            for processes in counts:
                # A fresh server for every run: no run inherits another's memory, keys,
                # fragmentation or connections.
                with EmbeddedServer() as server:
                    out.info = out.info or redis.Redis.from_url(server.url).info("server")
                    got = run_driver(peer, py, server.url, tasks, processes)
                if not got:
                    continue
                out.runs.setdefault((peer, processes), []).append(got["e2e_per_s"])
                if got.get("spawn_to_last_per_s"):
                    out.spawn_runs.setdefault((peer, processes), []).append(
                        got["spawn_to_last_per_s"]
                    )
                out.enqueues.setdefault(peer, []).append(got["enqueue_per_s"])
                out.versions[peer] = got["version"]
                out.clients[peer] = got.get("clients", {})
                out.settings[peer] = {
                    "concurrency": str(got.get("concurrency", "")),
                    "settings": str(got.get("settings", "")),
                }
                print(f"round {round_no + 1}: {peer} x{processes}: {got['e2e_per_s']:,}/s "
                      f"(from spawn {got.get('spawn_to_last_per_s') or 0:,}/s)",
                      file=sys.stderr)  # fmt: skip
    return out


def medians(runs: dict[tuple[str, int], list[int]]) -> dict[str, dict[str, int]]:
    """peer -> "x<processes>" -> the median of its rounds."""
    out: dict[str, dict[str, int]] = {}
    for (peer, processes), rates in runs.items():
        out.setdefault(peer, {})[f"x{processes}"] = round(statistics.median(rates))
    return out


def ours_over_theirs(
    rates: dict[str, dict[str, int]], counts: list[int], suffix: str
) -> dict[str, float]:
    """fairque's (and its asyncio worker's) rate over each peer's, at each process count."""
    return {
        f"{ours}_vs_{peer}_x{p}{suffix}": round(rates[ours][f"x{p}"] / r[f"x{p}"], 2)
        for ours in ("fairque", "fairque_async")
        if ours in rates
        for peer, r in rates.items()
        if not peer.startswith("fairque")
        for p in counts
        if f"x{p}" in r and f"x{p}" in rates[ours]
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tasks", type=int, default=20000)
    ap.add_argument("--processes", default="1,2", help="worker process counts, comma-separated")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each figure is the median")
    ap.add_argument("--peers", default=",".join(PEERS), help="which queues, comma-separated")
    ap.add_argument("--json", action="store_true", help="print the JSON document only")
    ap.add_argument("--out", help="also write the JSON document here")
    args = ap.parse_args()
    counts = [int(p) for p in args.processes.split(",")]
    peers = [p for p in args.peers.split(",") if p in PEERS]
    got = collect(peers, counts, args.repeat, args.tasks)
    runs, spawn_runs, enqueues = got.runs, got.spawn_runs, got.enqueues
    versions, clients, settings, info = got.versions, got.clients, got.settings, got.info
    results = medians(runs)
    from_spawn = medians(spawn_runs)
    enqueue = {peer: round(statistics.median(r)) for peer, r in enqueues.items()}
    peers_enqueue = [r for peer, r in enqueue.items() if not peer.startswith("fairque")]
    ratios = {**ours_over_theirs(results, counts, ""),
              **ours_over_theirs(from_spawn, counts, "_from_spawn")}  # fmt: skip
    if peers_enqueue:
        for ours in ("fairque", "fairque_async"):
            if ours in enqueue:
                ratios[f"{ours}_push_vs_fastest_enqueue"] = round(
                    enqueue[ours] / max(peers_enqueue), 2
                )
    doc = {
        "scenario": "peers",
        "server": {
            "server": info.get("server_name", "redis"),
            "version": info.get("valkey_version") or info.get("redis_version"),
            "python": platform.python_version(),
            "cores": os.cpu_count(),
        },
        "params": {"tasks": args.tasks, "processes": counts, "repeat": args.repeat},
        "versions": versions,
        "clients": clients,
        "settings": settings,
        "results": {
            "e2e_per_s": results,
            "spawn_to_last_per_s": from_spawn,
            "enqueue_per_s": enqueue,
        },
        "ratios": ratios,
    }
    if args.out:
        Path(args.out).write_text(json.dumps(doc, indent=2))
    if args.json:
        print(json.dumps(doc))
        return
    print_table(doc, counts)


def print_table(doc: dict[str, Any], counts: list[int]) -> None:
    results = doc["results"]["e2e_per_s"]
    ours = [o for o in ("fairque", "fairque_async") if o in results]
    enqueue = doc["results"].get("enqueue_per_s", {})
    spawned = doc["results"].get("spawn_to_last_per_s", {})
    head = "| queue | version | concurrency | single enqueue /s | "
    head += " | ".join(f"W={p} /s" for p in counts)
    head += "".join(f" | W={p} from spawn /s" for p in counts)
    head += "".join(f" | {o} / it (W={','.join(map(str, counts))})" for o in ours) + " |"
    print(head)
    print("|" + "---|" * (4 + 2 * len(counts) + len(ours)))
    for peer, r in sorted(results.items(), key=lambda kv: -kv[1].get(f"x{counts[-1]}", 0)):
        cells = " | ".join(f"{r.get(f'x{p}', 0):,}" for p in counts)
        cells += "".join(f" | {spawned.get(peer, {}).get(f'x{p}', 0):,}" for p in counts)
        ratio_cells = "".join(
            " | " + " / ".join(f"{results[o][f'x{p}'] / r[f'x{p}']:.2f}"
                               for p in counts if f"x{p}" in r and f"x{p}" in results[o])
            for o in ours
        )  # fmt: skip
        conc = doc["settings"].get(peer, {}).get("concurrency", "")
        enq = f"{enqueue[peer]:,}" if peer in enqueue else ""
        print(
            f"| {peer} | {doc['versions'].get(peer, '')} | {conc} | {enq} | {cells}{ratio_cells} |"
        )
    try:
        import plotext as plt
    except ImportError:
        return
    names = list(results)
    plt.simple_multiple_bar(names, [[results[n].get(f"x{p}", 0) for n in names] for p in counts],
                            labels=[f"{p} process(es)" for p in counts], width=100,
                            title="no-op tasks drained per second")  # fmt: skip
    plt.show()


if __name__ == "__main__":
    main()
