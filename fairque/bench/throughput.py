"""Scenario ``throughput``: single-client push, push_batch and pop+complete rates, and the
same client's raw EVALSHA rates as the baseline they are divided by."""

from __future__ import annotations

from typing import Any

from fairque.bench import common
from fairque.bench.common import SINGLE, BenchReport, Progress, Target, quiet
from fairque.bench.drain import drain_rate
from fairque.core.models import Task
from fairque.queue import TaskQueue

BASELINE_LUA = "return redis.call('LPUSH', KEYS[1], ARGV[1])"
BATCH = 1000


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

            progress("baseline: sequential EVALSHA")

            def evalsha() -> None:
                for i in range(tasks):
                    script(keys=[key], args=[i])

            def pipelined() -> None:
                for start in range(0, batch_tasks, BATCH):
                    pipe = client.pipeline(transaction=False)
                    for i in range(start, start + BATCH):
                        # EVALSHA as a plain command: cluster pipelines refuse .evalsha
                        pipe.execute_command("EVALSHA", script.sha, 1, key, i)
                    pipe.execute()

            evalsha_rate = common.rate(tasks, evalsha)
            progress("baseline: pipelined EVALSHA", ("evalsha", evalsha_rate))
            pipelined_rate = common.rate(batch_tasks, pipelined)
            progress("push", ("evalsha_pipelined", pipelined_rate))

            singles = [Task.create(f"user-{i % 10}", 3, {"i": i}) for i in range(tasks)]

            def push() -> None:
                for t in singles:
                    q.push(t)

            push_rate = common.rate(tasks, push)

            progress("push_batch", ("push", push_rate))
            batched = [Task.create(f"user-{i % 10}", 3, {"i": i}) for i in range(batch_tasks)]

            def push_batch() -> None:
                for start in range(0, batch_tasks, BATCH):
                    q.push_batch(batched[start : start + BATCH])

            batch_rate = common.rate(batch_tasks, push_batch)

            progress("pop + complete", ("push_batch", batch_rate))

            def pop_complete() -> None:
                for _ in range(tasks):
                    t = q.pop()
                    assert t is not None
                    q.complete(t)

            pop_complete_rate = common.rate(tasks, pop_complete)
        common.drop_queue(url, config.queue.name, target)
        progress("end to end: 2 worker processes", ("pop_complete", pop_complete_rate))
        e2e_rate = drain_rate(url, tasks * 4, 2, "sync", target)
        progress("done", ("e2e", e2e_rate))
    report.results = {
        "push_per_s": round(push_rate),
        "push_batch_per_s": round(batch_rate),
        "pop_complete_per_s": round(pop_complete_rate),
        "e2e_per_s": round(e2e_rate),
        "baseline_evalsha_per_s": round(evalsha_rate),
        "baseline_pipelined_per_s": round(pipelined_rate),
    }
    report.ratios = {
        "push_vs_evalsha": round(push_rate / evalsha_rate, 3),
        "batch_vs_pipelined": round(batch_rate / pipelined_rate, 3),
        "batch_vs_push": round(batch_rate / push_rate, 2),
    }
    return report
