"""Benchmark scenarios shared by ``fairque bench``, the TUI and ``benchmarks/``.

Benchmarks measure; tests assert. Every figure that matters is a ratio of two rates
measured in the same run, because the machine is shared and noisy.
"""

from fairque.bench.capacity import run_capacity
from fairque.bench.common import BenchReport
from fairque.bench.dag import run_dag
from fairque.bench.drain import run_drain
from fairque.bench.fairness import run_fairness, run_weights
from fairque.bench.fairness_suite import SUITE, run_fairness_suite
from fairque.bench.inspect_scale import run_inspect
from fairque.bench.latency import run_latency
from fairque.bench.partitions_bench import run_partitions
from fairque.bench.scale_users import run_scale_users
from fairque.bench.throughput import run_throughput

SCENARIOS = {
    "throughput": run_throughput,
    "fairness": run_fairness,
    "weights": run_weights,
    "scale-users": run_scale_users,
    "drain": run_drain,
    "inspect": run_inspect,
    "partitions": run_partitions,
    "capacity": run_capacity,
    "latency": run_latency,
    "dag": run_dag,
    "fairness-suite": run_fairness_suite,
    **SUITE,
}
# What `--scenario all` runs: each scenario once (the suite runs its own members).
ALL = [name for name in SCENARIOS if name not in SUITE]
# The scenarios that also take a Target: a cluster, a partitioned queue.
TARGETED = {"throughput": run_throughput, "drain": run_drain}

__all__ = [
    "ALL",
    "SCENARIOS",
    "TARGETED",
    "BenchReport",
    "run_capacity",
    "run_dag",
    "run_drain",
    "run_fairness",
    "run_fairness_suite",
    "run_inspect",
    "run_latency",
    "run_partitions",
    "run_scale_users",
    "run_throughput",
    "run_weights",
]
