"""The sans-IO vocabulary: a queue session (what operations know about one queue and the
popper), the calls an operation yields (a script or a plain command, or a list of them sent
as one pipeline), and the combinators that run operations.

An operation is a generator: it yields steps, receives each reply, and returns its result.
``TaskQueue`` and ``AsyncTaskQueue`` only drive operations over their own connection, so the
logic of an operation exists exactly once.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from fairque.core.config import FairQueueConfig
from fairque.core.exceptions import (
    CorruptQueue,
    DependencyCycle,
    FairQueueError,
    InvalidCost,
    InvalidPayload,
    ServerError,
    TaskIdConflict,
    TenantMismatch,
)
from fairque.core.keys import QueueKeys
from fairque.queue.routing import Registration, SettingsDoc, registration_of
from fairque.scripts import load_script
from fairque.scripts.protocol import SPECS, Arg

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """Run Lua script ``script`` with these KEYS and ARGV."""

    script: str
    keys: tuple[str, ...]
    args: tuple[Arg, ...]


@dataclass(frozen=True, slots=True)
class CommandCall:
    """Send one plain command (reads for snapshots).

    ``lenient`` reads answer None instead of failing when the server refuses them (a key that
    something else wrote over with the wrong type), so one broken key cannot blank a page."""

    args: tuple[Arg, ...]
    lenient: bool = False
    # On a cluster, the key whose node must answer a keyless command: WAIT and WAITAOF count
    # the writes made before them on that node's connection, so they go where the push went.
    route: str | None = None
    # A blocking read (XREAD BLOCK): sent alone on a connection of its own, never in a
    # pipeline it would hold up.
    blocking: bool = False
    # Its reply is used as the server sends it (no redis-py parsing): it may travel with
    # script calls on the queue's own connections (a long poll's BLPOP).
    raw: bool = False


Call: TypeAlias = ScriptCall | CommandCall
Step: TypeAlias = Call | list[Call]  # a list is sent as one pipeline; its reply is a list
Op: TypeAlias = Generator[Step, Any, T]


class QueueSession:
    """What the operations need to know about one queue and the popper's identity."""

    def __init__(
        self, config: FairQueueConfig, worker_id: str | None = None, partition: int | None = None
    ) -> None:
        if worker_id is None and len(config.workers) == 1:
            worker_id = config.workers[0].id
        self.config = config
        self.queue = config.queue
        self.partition = partition  # None: the queue is not partitioned
        self.keys = QueueKeys(config.queue.name, partition)
        self.worker_id = worker_id
        self.registration: Registration | None = registration_of(config, worker_id)
        # Computed once: it rides in every pop (hashing a long user list per pop would cost).
        self.registration_fp = self.registration.fingerprint if self.registration else ""
        self.settings = SettingsDoc.of(config)
        self.registration_ttl_ms = round(config.registration_ttl(worker_id) * 1000)
        me = next((w for w in config.workers if w.id == worker_id), None)
        self.steal_after_us = round(me.steal_after * 1_000_000) if me is not None else 0
        # A consumer registers before its first pop (and again whenever pop says its
        # registration is gone); a process that only pushes never does.
        self.needs_register = self.registration is not None or self.settings.has_opinion
        self.aging_us = round(config.queue.aging_seconds * 1_000_000)
        # Partitioned queues with the fair pick: the global virtual time users enter this
        # partition at (the Partitions object keeps it from what it reads of every
        # partition; None: not picking fairly), and this partition's head pass and virtual
        # time as its last pop reported them.
        self.vt_floor: float | None = None
        self.view: tuple[float | None, float] | None = None
        self.lease_ms = round(config.queue.visibility_timeout * 1000)
        q = config.queue
        # How pop retries the tasks of expired leases (no jitter: computed in the server).
        self.reap_policy = (
            round(q.retry_base_seconds * 1000),
            q.retry_factor,
            round(q.retry_max_seconds * 1000),
            q.max_attempts,
        )
        self.head = (self.keys.meta,)  # KEYS of every script
        self.prefix = self.keys.prefix

    def call(self, script: str, *args: Arg) -> ScriptCall:
        """A call of ``script``, checked against its declared protocol (ProtocolError)."""
        SPECS[script].check(args)
        return ScriptCall(script, self.head, (self.prefix, *args))

    def read_call(self, script: str, *args: Arg) -> CommandCall:
        """A script that only reads, run with EVAL_RO: an account that may only read (no
        EVAL/EVALSHA, no SCRIPT LOAD) can run it, and the server refuses any write in it.
        The body travels with each call (these run rarely: explain)."""
        SPECS[script].check(args)
        source = load_script(script).source
        return CommandCall(("EVAL_RO", source, len(self.head), *self.head, self.prefix, *args))


def single(step: Step) -> Op[Any]:
    """An operation of one step: a call (or a pipeline) whose raw reply is the result."""
    return (yield step)


def gather(ops: Sequence[Op[T]]) -> Op[list[T]]:
    """Run several operations side by side: each round trip sends the current step of every
    unfinished one in one pipeline (on a cluster, redis-py splits it per node), so N
    partitions cost the round trips of one, not N times as many."""
    if len(ops) == 1:
        return [(yield from ops[0])]
    results: list[Any] = [None] * len(ops)
    steps: dict[int, Step] = {}
    for i, op in enumerate(ops):
        try:
            steps[i] = next(op)
        except StopIteration as stop:
            results[i] = stop.value
    while steps:
        batch: list[Call] = []
        spans: list[tuple[int, int, bool]] = []
        for i, step in steps.items():
            calls = step if isinstance(step, list) else [step]
            spans.append((i, len(calls), isinstance(step, list)))
            batch += calls
        replies = yield batch
        at = 0
        following: dict[int, Step] = {}
        for i, n, was_list in spans:
            part = replies[at : at + n]
            at += n
            try:
                following[i] = ops[i].send(part if was_list else part[0])
            except StopIteration as stop:
                results[i] = stop.value
        steps = following
    return results


def translate_error(message: str) -> FairQueueError:
    """Turn a script's error reply into the matching typed exception."""
    # The server appends where the error arose ("user_function:12", "user_script:12").
    text = message.split("user_function", 1)[0].split("user_script", 1)[0].strip()
    for word, build in (
        ("CONFLICT ", lambda rest: TaskIdConflict(rest.split()[0])),
        ("PAYLOAD_TOO_LARGE ", lambda rest: InvalidPayload(f"payload too large: {rest}")),
        ("CORRUPT_KEY ", lambda rest: CorruptQueue(f"queue key {rest}; nothing was written")),
        ("TENANT_MISMATCH ", lambda rest: TenantMismatch(*rest.split()[:3])),
        ("BAD_COST ", lambda rest: InvalidCost(f"bad cost for task {rest}")),
        ("DEPENDENCY_CYCLE ", lambda rest: DependencyCycle(*rest.split()[:2])),
    ):
        at = text.find(word)
        if at >= 0:
            return build(text[at + len(word) :])
    return ServerError(message)
