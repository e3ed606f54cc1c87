"""Batch handlers: one run takes many tasks.

A handler declared with a batch size (``@task("index", batch_size=100, batch_wait=0.5)``)
is called with a list of tasks of one user (``batch_by="user"``, the default) or of any users
(``batch_by="handler"``), and returns one result per task, in order: a value completes its
task, an exception instance fails it (retried as any failure), and a raised exception fails
them all. Each task is popped, leased, charged and acknowledged on its own: fairness counts
every task of a batch, and a batch never lets one user's tasks jump another's turn (the
worker gathers what the fair pops hand it).

A worker gathers a handler's tasks until the batch is full or its first task has waited
``batch_wait`` seconds. A running batch takes one of the worker's ``concurrency`` slots,
whatever its size; an open one takes none, and the worker holds at most a batch's worth of
waiting tasks per slot; their leases are kept alive by the worker's beat meanwhile.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fairque.worker.handlers import BatchSpec
from fairque.worker.runs import Running


@dataclass(eq=False)
class Batch:
    """Runs of one batch handler gathered for one call (one worker slot)."""

    spec: BatchSpec
    runs: list[Running] = field(default_factory=list)
    opened: float = field(default_factory=time.monotonic)

    @property
    def due(self) -> float:
        return self.opened + self.spec.wait

    @property
    def task_ids(self) -> list[str]:
        return [r.task.task_id for r in self.runs]


class Batcher:
    """The open batches of one worker, by handler (and user, with ``by="user"``)."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, str], Batch] = {}

    @property
    def waiting(self) -> set[Batch]:
        """The open batches (their runs wait to start)."""
        return set(self.open.values())

    def hold_limit(self, concurrency: int) -> int:
        """Tasks a worker may hold waiting in open batches: enough to fill a batch per slot,
        no more (their leases are held, and beaten, meanwhile)."""
        return concurrency * max((b.spec.size for b in self.open.values()), default=1)

    def add(self, run: Running, spec: BatchSpec) -> Batch | None:
        """Put ``run`` in its open batch (opening one); returns the batch when this filled
        it (it is no longer open: the caller starts it)."""
        handler = run.handler.name if run.handler else ""
        key = (handler, run.task.user_id if spec.by == "user" else "")
        batch = self.open.get(key)
        if batch is None:
            batch = self.open[key] = Batch(spec)
        batch.runs.append(run)
        run.batch = batch
        if len(batch.runs) >= spec.size:
            del self.open[key]
            return batch
        return None

    def take_due(self, everything: bool = False) -> list[Batch]:
        """The open batches whose wait is over (all of them with ``everything``: stopping)."""
        now = time.monotonic()
        due = [k for k, b in self.open.items() if everything or b.due <= now]
        return [self.open.pop(k) for k in due]

    def next_due(self) -> float | None:
        """Seconds until the next open batch is due (None: none open)."""
        if not self.open:
            return None
        return max(min(b.due for b in self.open.values()) - time.monotonic(), 0.0)


def split_results(batch: Batch, value: Any) -> list[tuple[Running, Any, BaseException | None]]:
    """A batch handler's return value as each run's (result, error): a list with one item
    per task (an exception instance fails its task), or None (every task completes with
    None). Anything else fails every task: the handler broke its contract."""
    runs = batch.runs
    if value is None:
        return [(r, None, None) for r in runs]
    if isinstance(value, list | tuple) and len(value) == len(runs):
        return [
            (r, None, v) if isinstance(v, BaseException) else (r, v, None)
            for r, v in zip(runs, value, strict=True)
        ]
    what = f"a list of {len(value)}" if isinstance(value, list | tuple) else type(value).__name__
    error = TypeError(
        f"batch handler returned {what} for {len(runs)} tasks: return one result per task, "
        "in order (or None)"
    )
    return [(r, None, error) for r in runs]
