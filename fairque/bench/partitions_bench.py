"""``partitions``: fairness across the partitions of one queue.

Four partitions with users spread unevenly (one user alone in partition 0, 30 users in
partition 1, 10 in each of the others), equal weights, every user backlogged for the whole
run, four concurrent poppers. Each user's dispatches are compared with its fair share (an
equal part): Jain's index over all users, and the worst user's share against the fair one.
Run three ways in one go: the fair pick (lowest head pass, global virtual time), the sticky
pick (64 pops from a partition, then the next), and the same users in one partition.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from fairque.bench import common
from fairque.bench.common import BenchReport, Progress, Target, quiet
from fairque.bench.fairness import jain
from fairque.core.models import Task
from fairque.queue import TaskQueue
from fairque.queue.partitions import partition_of

P = 4
LAYOUT = (1, 30, 10, 10)  # users in partitions 0..3
POPPERS = 4
BATCH = 8


def layout_users(layout: tuple[int, ...] = LAYOUT) -> list[str]:
    """User ids whose hash puts ``layout[k]`` of them in partition k."""
    found: dict[int, list[str]] = {k: [] for k in range(len(layout))}
    i = 0
    while any(len(found[k]) < n for k, n in enumerate(layout)):
        user = f"tenant-{i}"
        k = partition_of(user, len(layout))
        if len(found[k]) < layout[k]:
            found[k].append(user)
        i += 1
    return [u for k in range(len(layout)) for u in found[k]]


def _run(url: str, users: list[str], dispatches: int, **queue: Any) -> Counter[str]:
    """Dispatches per user over the first ``dispatches`` (every user stays backlogged)."""
    config = common.bench_config(url, **queue)
    per_user = dispatches // 3 + 200  # more than any user can take in the run
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    done = threading.Event()
    with TaskQueue(config) as q:
        for u in users:
            q.push_batch([Task.create(u, 3, None) for _ in range(per_user)])

        def popper() -> None:
            with TaskQueue(config) as mine:
                while not done.is_set():
                    batch = mine.pop_many(BATCH)
                    with lock:
                        room = dispatches - sum(counts.values())
                        counts.update(t.user_id for t in batch[: max(room, 0)])
                        if sum(counts.values()) >= dispatches:
                            done.set()
                    mine.complete_many((t, None) for t in batch)

        threads = [threading.Thread(target=popper) for _ in range(POPPERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    common.drop_queue(url, config.queue.name, target=Target(partitions=config.queue.partitions))
    return counts


def _figures(counts: Counter[str], users: list[str]) -> dict[str, float]:
    total = sum(counts.values())
    fair = total / len(users)
    return {
        "jain": round(jain({u: counts[u] for u in users}, dict.fromkeys(users, fair)), 4),
        "worst_share_vs_fair": round(min(counts[u] for u in users) / fair, 3),
        "best_share_vs_fair": round(max(counts[u] for u in users) / fair, 3),
        "alone_user_share_vs_fair": round(counts[users[0]] / fair, 3),
    }


def run_partitions(
    redis_url: str | None = None, tasks: int = 10_000, progress: Progress = quiet
) -> BenchReport:
    users = layout_users()
    with common.bench_server(redis_url) as url:
        report = BenchReport(
            scenario="partitions",
            server=common.server_facts(url),
            params={"dispatches": tasks, "partitions": P, "users_per_partition": list(LAYOUT),
                    "poppers": POPPERS, "batch": BATCH, "weights": "equal"},
        )  # fmt: skip
        runs = {}
        for label, queue in (
            ("fair_pick", {"partitions": P, "partition_pick": "fair"}),
            ("sticky_pick", {"partitions": P, "partition_pick": "sticky"}),
            ("one_partition", {"partitions": 1}),
        ):
            progress(f"{label}: {len(users)} users, {tasks} dispatches")
            runs[label] = _figures(_run(url, users, tasks, **queue), users)
            progress(f"{label} done", (f"{label} jain", runs[label]["jain"]))
    report.results = runs
    report.ratios = {
        "jain_fair_pick": runs["fair_pick"]["jain"],
        "worst_vs_fair_fair_pick": runs["fair_pick"]["worst_share_vs_fair"],
        "jain_sticky_pick": runs["sticky_pick"]["jain"],
        "worst_vs_fair_sticky_pick": runs["sticky_pick"]["worst_share_vs_fair"],
        "jain_one_partition": runs["one_partition"]["jain"],
    }
    return report
