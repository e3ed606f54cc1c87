"""fairque against other Python queues: one task's round trip, idle and under another tenant's
flood, each queue with its own result API.

    uv run python benchmarks/peers_latency.py [--samples 100] [--peers fairque,saq,...] [--json]

Every driver (``benchmarks/peers/<peer>_latency.py``, helpers in ``latency_common.py``) starts
one worker process with 4 slots and measures, one task at a time: enqueue -> the handler starts,
and enqueue -> the producer's result wait returns (rq ``job.latest_result(timeout=)``, SAQ
``job.refresh(until_complete=)``, arq ``job.result(timeout=)``, streaq ``task.result()``,
taskiq ``task.wait_result()``, huey ``result.get(blocking=True)``, fairque
``handle.result()``), each with the queue's own defaults. ``idle``: nothing else queued.
``flood``: before each light task, another tenant enqueues 200 tasks of 2 ms each; a FIFO
queue runs the light task after them, a fair one at the next free slot. Peers are installed
into their own virtualenvs as ``peers.py`` does; all run against one embedded Valkey.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis
from peers import python_for

from fairque.server import EmbeddedServer

HERE = Path(__file__).resolve().parent
LATENCY_PEERS = ["fairque", "fairque_async", "huey", "rq", "saq", "arq", "streaq", "taskiq"]


def run_driver(peer: str, py: str, url: str, samples: int) -> dict[str, Any] | None:
    env = {**os.environ, "PEERBENCH_URL": url, "PYTHONPATH": str(HERE / "peers")}
    env.pop("VIRTUAL_ENV", None)
    script = HERE / "peers" / f"{peer}_latency.py"
    proc = subprocess.run(
        [py, str(script), url, str(samples)],
        cwd=HERE / "peers", env=env, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        print(f"{peer} failed: {proc.stderr.strip().splitlines()[-3:]}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--samples", type=int, default=100, help="light tasks per phase")
    ap.add_argument("--peers", default=",".join(LATENCY_PEERS))
    ap.add_argument("--json", action="store_true", help="print the JSON document only")
    ap.add_argument("--out", help="also write the JSON document here")
    args = ap.parse_args()
    peers = [p for p in args.peers.split(",") if p in LATENCY_PEERS]
    results: dict[str, Any] = {}
    with EmbeddedServer() as server:
        client = redis.Redis.from_url(server.url)
        info = client.info("server")
        for peer in peers:
            py = python_for(peer.removesuffix("_async") if peer == "fairque_async" else peer)
            if py is None:
                continue
            client.flushdb()
            got = run_driver(peer, py, server.url, args.samples)
            if got:
                results[peer] = got
                print(f"{peer}: idle start p50 {got['idle']['start_p50_ms']} ms, result p50 "
                      f"{got['idle']['result_p50_ms']} ms; flood start p99 "
                      f"{got['flood']['start_p99_ms']} ms", file=sys.stderr)  # fmt: skip
    others = {p: r for p, r in results.items() if not p.startswith("fairque")}
    ratios: dict[str, float] = {}
    for ours in ("fairque", "fairque_async"):
        if ours not in results:
            continue
        mine = results[ours]
        if others:
            best_start = min(r["idle"]["start_p50_ms"] for r in others.values())
            best_result = min(r["idle"]["result_p50_ms"] for r in others.values())
            ratios[f"{ours}_idle_start_p50_vs_best_peer"] = round(
                mine["idle"]["start_p50_ms"] / best_start, 2
            )
            ratios[f"{ours}_idle_result_p50_vs_best_peer"] = round(
                mine["idle"]["result_p50_ms"] / best_result, 2
            )
        ratios[f"{ours}_flood_p99_vs_idle_p99"] = round(
            mine["flood"]["start_p99_ms"] / mine["idle"]["start_p99_ms"], 2
        )
    doc = {
        "scenario": "peers-latency",
        "server": {
            "server": info.get("server_name", "redis"),
            "version": info.get("valkey_version") or info.get("redis_version"),
            "python": platform.python_version(),
            "cores": os.cpu_count(),
        },
        "params": {"samples": args.samples, "slots": 4, "flood": 200, "heavy_ms": 2},
        "results": results,
        "ratios": ratios,
    }
    if args.out:
        Path(args.out).write_text(json.dumps(doc, indent=2))
    if args.json:
        print(json.dumps(doc))
        return
    print("| queue | version | result API | idle start p50 / p99 ms | idle result p50 / p99 ms "
          "| flood start p50 / p99 ms | flood result p99 ms |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for peer, r in results.items():
        i, f = r["idle"], r["flood"]
        api = r.get("settings", "").rsplit("; ", 1)[-1] if "; " in r.get("settings", "") else ""
        print(f"| {peer} | {r['version']} | {api} | {i['start_p50_ms']} / {i['start_p99_ms']} | "
              f"{i['result_p50_ms']} / {i['result_p99_ms']} | {f['start_p50_ms']} / "
              f"{f['start_p99_ms']} | {f['result_p99_ms']} |")  # fmt: skip
    for name, value in ratios.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
