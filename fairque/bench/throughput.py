"""Scenario ``throughput``: single-client push, push_batch and pop+complete rates, and the
same client's raw EVALSHA rates as the baseline they are divided by, measured side by side
in interleaved rounds."""

from __future__ import annotations

import statistics
from functools import partial
from typing import Any

from fairque.bench import common
from fairque.bench.common import SINGLE, BenchReport, Progress, Target, quiet
from fairque.bench.drain import drain_rate
from fairque.core.models import Task
from fairque.queue import TaskQueue

BASELINE_LUA = "return redis.call('LPUSH', KEYS[1], ARGV[1])"
BATCH = 1000
# The rates are taken in this many interleaved rounds; each figure is the median of its rounds.
ROUNDS = 3


def run_throughput(redis_url: str | None = None, tasks: int = 5000, progress: Progress = quiet,
                   target: Target = SINGLE) -> BenchReport:  # fmt: skip
    """Measure the single-client rates; ``tasks`` sizes the sequential loops."""
    batch_tasks = max(tasks * 10, BATCH)
    with common.bench_server(redis_url) as url:
        config = common.bench_config(url, target)
        report = BenchReport(
            scenario="throughput",
            server=common.server_facts(url),
            params={"tasks": tasks, "batch": BATCH, "batch_tasks": batch_tasks,
                    "cluster": target.cluster, "partitions": target.partitions,
                    "partition_pick": target.partition_pick},
        )  # fmt: skip
        with TaskQueue(config) as q:
            key = q.session.keys.key("stats") + ":bench-baseline"
            # The baseline talks to the queue's node directly, as fairque's transport does.
            client: Any = q.client
            if target.cluster:
                client = client.get_redis_connection(client.get_node_from_key(key))
            script = client.register_script(BASELINE_LUA)

            per_round = max(tasks // ROUNDS, 1)
            per_round_batch = max(batch_tasks // ROUNDS // BATCH, 1) * BATCH
            singles = [Task.create(f"user-{i % 10}", 3, {"i": i})
                       for i in range(per_round * ROUNDS)]  # fmt: skip
            batched = [Task.create(f"user-{i % 10}", 3, {"i": i})
                       for i in range(per_round_batch * ROUNDS)]  # fmt: skip

            def evalsha() -> None:
                for i in range(per_round):
                    script(keys=[key], args=[i])

            def pipelined() -> None:
                for start in range(0, per_round_batch, BATCH):
                    pipe = client.pipeline(transaction=False)
                    for i in range(start, start + BATCH):
                        # EVALSHA as a plain command: cluster pipelines refuse .evalsha
                        pipe.execute_command("EVALSHA", script.sha, 1, key, i)
                    pipe.execute()

            def push(r: int) -> None:
                for t in singles[r * per_round : (r + 1) * per_round]:
                    q.push(t)

            def push_batch(r: int) -> None:
                base = r * per_round_batch
                for start in range(base, base + per_round_batch, BATCH):
                    q.push_batch(batched[start : start + BATCH])

            def pop_complete() -> None:
                for _ in range(per_round):
                    t = q.pop()
                    assert t is not None
                    q.complete(t)

            # Each rate is measured in every round, next to its baseline: a machine whose
            # speed drifts during the run (a shared one) moves both sides of a ratio alike.
            rounds: list[dict[str, float]] = []
            for r in range(ROUNDS):
                progress(f"round {r + 1} of {ROUNDS}: baselines, then fairque")
                rounds.append({
                    "evalsha": common.rate(per_round, evalsha),
                    "push": common.rate(per_round, partial(push, r)),
                    "pipelined": common.rate(per_round_batch, pipelined),
                    "push_batch": common.rate(per_round_batch, partial(push_batch, r)),
                    "pop_complete": common.rate(per_round, pop_complete),
                })  # fmt: skip
                progress(f"round {r + 1} done", ("push", rounds[-1]["push"]))
        common.drop_queue(url, config.queue.name, target)
        progress("end to end: 2 worker processes")
        e2e_rate = drain_rate(url, tasks * 4, 2, "sync", target)
        progress("done", ("e2e", e2e_rate))

    def rate(name: str) -> int:
        return round(statistics.median(r[name] for r in rounds))

    def ratio(name: str, baseline: str, per_baseline: float = 1.0) -> float:
        return round(statistics.median(r[name] / (r[baseline] / per_baseline) for r in rounds), 3)

    report.params["rounds"] = ROUNDS
    report.results = {
        "push_per_s": rate("push"),
        "push_batch_per_s": rate("push_batch"),
        "pop_complete_per_s": rate("pop_complete"),
        "e2e_per_s": round(e2e_rate),
        "baseline_evalsha_per_s": rate("evalsha"),
        "baseline_pipelined_per_s": rate("pipelined"),
    }
    report.ratios = {
        "push_vs_evalsha": ratio("push", "evalsha"),
        "batch_vs_pipelined": ratio("push_batch", "pipelined"),
        # A pop and an ack are two round trips: against two sequential EVALSHAs.
        "pop_complete_vs_evalsha_pairs": ratio("pop_complete", "evalsha", 2.0),
        "batch_vs_push": round(statistics.median(r["push_batch"] / r["push"] for r in rounds), 2),
    }
    return report
