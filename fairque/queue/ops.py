"""The queue's operations (push, pop, acknowledgements, leases), each a sans-IO generator of
server calls (see :mod:`fairque.queue.session`). ``TaskQueue`` and ``AsyncTaskQueue`` only
drive them over their own connection, so the logic of an operation exists exactly once.
"""

from __future__ import annotations

import random
import secrets
import traceback as tb
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from fairque.core.codec import encode_json
from fairque.core.models import (
    AckResult,
    PushResult,
    Task,
    TaskState,
    trusted,
)
from fairque.core.validation import check_task_id
from fairque.queue.durability import check_durability, durability_call
from fairque.queue.records import (
    NO_VALUE,
    lease_of,
    ms_time,
    parse_task,
    push_args,
    ran_ms,
    row_lease,
    token_args,
)
from fairque.queue.registration import (
    Registered,
    leave_calls,
    register,
    register_call,
    registered,
)
from fairque.queue.session import (
    Call,
    CommandCall,
    Op,
    QueueSession,
    ScriptCall,
    Step,
    gather,
    single,
    translate_error,
)
from fairque.scripts.protocol import Arg
from fairque.tracing import push_carrier

__all__ = [
    "CORRUPT_RETRIES",
    "PUSH_CHUNK",
    "REGISTER",
    "TRACEBACK_TAIL",
    "Acks",
    "Call",
    "CommandCall",
    "Failure",
    "Op",
    "QueueSession",
    "Registered",
    "ScriptCall",
    "Step",
    "ack_and_pop",
    "backoff_ms",
    "complete",
    "fail",
    "failure_of",
    "gather",
    "heartbeat",
    "leave_calls",
    "pop",
    "push",
    "register",
    "register_call",
    "registered",
    "release",
    "requeue_dead",
    "single",
    "translate_error",
]

# ------------------------------------------------------------------------------------ push


# One script call carries at most this many tasks, so the server never pauses long; a larger
# batch is split into chunks sent together in one pipeline (still one round trip).
PUSH_CHUNK = 2000


_STATES = {state.value: state for state in TaskState}


def push(s: QueueSession, tasks: Sequence[Task]) -> Op[list[PushResult]]:
    """Push tasks in one round trip; every task is validated before anything is sent."""
    if not tasks:
        return []
    calls: list[Call] = []
    for task in tasks:
        if not isinstance(task, Task):
            raise TypeError(f"push takes Task objects (Task.create), not {type(task).__name__}")
    traced = push_carrier(s.queue.name, len(tasks))  # '' unless the application traces
    for start in range(0, len(tasks), PUSH_CHUNK):
        calls.append(s.call("push", *push_args(s, tasks[start : start + PUSH_CHUNK], traced)))
    wait = durability_call(s)
    if wait is not None:  # the wait rides in the same pipeline: still one round trip
        *replies, acked = yield [*calls, wait]
        check_durability(s, acked)
    else:
        replies = [(yield calls[0])] if len(calls) == 1 else (yield calls)
    # The script's reply is trusted as popped rows are: no validation pass per result. Each
    # call answers each of its tasks' state, after '=' when the task existed already (and
    # then, after '|', the id of the task holding its unique key or debounce, if another); a
    # call of one task (a push, or a batch's last chunk of one) answers that state alone.
    states: list[str] = []
    for reply in replies:
        states += [reply] if isinstance(reply, str) else reply
    return [_push_result(task, state) for task, state in zip(tasks, states, strict=True)]


def _push_result(task: Task, answer: str) -> PushResult:
    # "=<state>|<id>": another task holds this one's unique key or debounce window
    state, _, holder = answer.removeprefix("=").partition("|")
    return trusted(PushResult, {"task_id": holder or task.task_id, "created": answer[0] != "=",
                                "state": _STATES[state]})  # fmt: skip


# ------------------------------------------------------------------------------------- pop


# Rounds of pop when payloads turn out corrupt (each round buries what it found).
CORRUPT_RETRIES = 4


def _pop_call(s: QueueSession, count: int) -> ScriptCall:
    return s.call(
        "pop",
        s.aging_us,
        s.worker_id or "-",
        s.lease_ms,
        count,
        s.queue.promote_batch,
        s.registration_fp,
        *s.reap_policy,
        secrets.token_hex(6),
        s.steal_after_us,
        "" if s.vt_floor is None else s.vt_floor,
    )


def _take_rows(s: QueueSession, rows: list[Any], tasks: list[Task]) -> ScriptCall | None:
    """Parse popped rows into ``tasks``; returns the call burying corrupt ones, if any."""
    worker = s.worker_id or "-"
    corrupt: list[str | int | float] = []
    for row in rows:
        task, why = parse_task(row, worker)
        if task is not None:
            tasks.append(task)
        else:  # bury it at once so no worker sees it and nobody retries it
            corrupt += [*row_lease(row), why, "CorruptTask", "", -1, ""]
    if not corrupt:
        return None
    return s.call("fail", s.queue.max_attempts, len(corrupt) // 7, *corrupt)


def _check_count(count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be an integer >= 1, got {count!r}")


REGISTER = "register"  # pop's reply when the popper must register first


def _pop_rows(s: QueueSession, count: int, rows: Any = None) -> Op[list[Any]]:
    """Pop rows (given ``rows``, an already received reply); registers first when needed."""
    if s.needs_register and rows is None:
        yield from register(s)
    if rows is None:
        rows = yield _pop_call(s, count)
    if rows == REGISTER:  # the registration expired, or the server lost it: register again
        yield from register(s)
        rows = yield _pop_call(s, count)
    if rows == REGISTER:
        return []
    got: list[Any] = list(rows)
    if s.vt_floor is not None and got and isinstance(got[-1], list):
        _, head, vt = got.pop()  # the partition's view, asked for by the fair pick
        s.view = (float(head) if head not in ("", b"") else None, float(vt))
    return got


def pop(s: QueueSession, count: int = 1) -> Op[list[Task]]:
    """Lease up to ``count`` tasks, each picked by the fair round-robin."""
    _check_count(count)
    tasks: list[Task] = []
    for _ in range(CORRUPT_RETRIES):
        rows = yield from _pop_rows(s, count - len(tasks))
        bury = _take_rows(s, rows, tasks)
        if bury is None:
            break
        yield bury
    return tasks


def _complete_call(s: QueueSession, items: Iterable[tuple[Task, Any]]) -> ScriptCall | None:
    args: list[Arg] = []
    for task, result in items:
        lease = lease_of(task)
        text = NO_VALUE if result is None else encode_json(result, what="result").encode()
        args += [task.task_id.encode(), lease.token.encode(), text, ran_ms(task)]
    if not args:
        return None
    return s.call("complete", round(s.queue.result_ttl * 1000), len(args) // 4, *args)


def complete(s: QueueSession, items: Iterable[tuple[Task, Any]]) -> Op[list[AckResult]]:
    """Acknowledge finished tasks, storing each JSON result for ``result_ttl``."""
    call = _complete_call(s, items)
    if call is None:
        return []
    reply = yield call
    return [AckResult(r) for r in reply]


def backoff_ms(s: QueueSession, attempt: int) -> int:
    """Exponential backoff with jitter: a random point in the upper half of the step."""
    q = s.queue
    step = min(q.retry_max_seconds, q.retry_base_seconds * q.retry_factor ** max(attempt - 1, 0))
    return round(step * random.uniform(0.5, 1.0) * 1000)


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt to report."""

    task: Task
    error: str
    error_type: str = ""
    traceback: str = ""
    retry: bool = True


TRACEBACK_TAIL = 4000


def failure_of(
    task: Task, error: BaseException | str, retry: bool = True, error_type: str | None = None
) -> Failure:
    """Describe a failed attempt from an exception (type and traceback tail) or a message."""
    if isinstance(error, BaseException):
        trace = "".join(tb.format_exception(type(error), error, error.__traceback__))
        message = str(error) or type(error).__name__
        return Failure(task, message, error_type or type(error).__name__, trace, retry)
    return Failure(task, str(error), error_type or "", "", retry)


def _fail_call(s: QueueSession, failures: Iterable[Failure]) -> ScriptCall | None:
    args: list[Arg] = []
    for f in failures:
        lease = lease_of(f.task)
        delay = backoff_ms(s, lease.attempt) if f.retry else -1
        args += [
            f.task.task_id,
            lease.token,
            str(f.error)[:TRACEBACK_TAIL],
            f.error_type,
            f.traceback[-TRACEBACK_TAIL:],
            delay,
            ran_ms(f.task),
        ]
    if not args:
        return None
    return s.call("fail", s.queue.max_attempts, len(args) // 7, *args)


def fail(s: QueueSession, failures: Iterable[Failure]) -> Op[list[AckResult]]:
    """Report failed attempts: retried after a backoff, or buried in the DLQ when exhausted."""
    call = _fail_call(s, failures)
    if call is None:
        return []
    reply = yield call
    return [AckResult(r) for r in reply]


Acks: TypeAlias = dict[str, AckResult]  # task id -> what its acknowledgement did
LongPoll: TypeAlias = tuple[list[str], float]  # wake lists to wait on, and for how long


def ack_and_pop(
    s: QueueSession,
    completes: Sequence[tuple[Task, Any]],
    failures: Sequence[Failure],
    count: int,
    wait: LongPoll | None = None,
) -> Op[tuple[list[Task], Acks]]:
    """A worker's round trip: acknowledge what finished and lease up to ``count`` more, in one
    pipeline (the acks run first, so slots and caps they free count for the pop). Returns the
    leased tasks and what each acknowledgement did (OK, RETRY, DEAD, STALE...).

    ``wait`` (an idle worker's long poll): the pop waits in the same pipeline for a token in
    one of these wake lists, at most that long, so a push wakes it within one hop of the
    server and the pop runs at once, with no round trip of its own."""
    if count > 0 and s.needs_register:
        yield from register(s)
    complete_call, fail_call = _complete_call(s, completes), _fail_call(s, failures)
    calls: list[Call] = [c for c in (complete_call, fail_call) if c]
    if count > 0:
        if wait is not None:
            keys, seconds = wait
            # At least 1 ms: a time-out of 0 would block for ever.
            wait_call = ("BLPOP", *keys, f"{max(seconds, 0.001):.3f}")
            calls.append(CommandCall(wait_call, raw=True))
        calls.append(_pop_call(s, count))
    if not calls:
        return [], {}
    replies = yield calls
    acks: Acks = {}
    at = 0
    acked = [t.task_id for t, _ in completes], [f.task.task_id for f in failures]
    for call, ids in zip((complete_call, fail_call), acked, strict=True):
        if call is not None:
            acks.update(zip(ids, (AckResult(r) for r in replies[at]), strict=True))
            at += 1
    tasks: list[Task] = []
    if count > 0:
        rows = yield from _pop_rows(s, count, replies[-1])
        bury = _take_rows(s, rows, tasks)
        if bury is not None:
            yield bury
    return tasks, acks


def heartbeat(s: QueueSession, tasks: Iterable[Task]) -> Op[dict[str, datetime | None]]:
    """Extend the leases of ``tasks``: task id -> new deadline, or None where it was lost."""
    deadlines, _ = yield from beat_leases(s, tasks)
    return deadlines


def beat_leases(
    s: QueueSession, tasks: Iterable[Task]
) -> Op[tuple[dict[str, datetime | None], set[str]]]:
    """Extend the leases of ``tasks``: their new deadlines (None where lost), and the ids of
    those whose cancel was asked for (a worker's fallback, should it miss the word)."""
    tasks = list(tasks)
    if not tasks:
        return {}, set()
    reply = yield s.call("heartbeat", s.lease_ms, len(tasks), *token_args(tasks))
    deadlines: dict[str, datetime | None] = {}
    canceled: set[str] = set()
    for t, d in zip(tasks, reply, strict=True):
        ms = int(d)
        deadlines[t.task_id] = ms_time(str(abs(ms))) if ms else None
        if ms < 0:
            canceled.add(t.task_id)
    return deadlines, canceled


def release(s: QueueSession, tasks: Iterable[Task]) -> Op[list[AckResult]]:
    """Hand leased tasks back unfinished: ready at once, the attempt not counted."""
    args = token_args(tasks)
    if not args:
        return []
    reply = yield s.call("release", len(args) // 2, *args)
    return [AckResult(r) for r in reply]


def requeue_dead(s: QueueSession, task_ids: Sequence[str]) -> Op[int]:
    """Put dead tasks back to ready (same ids, attempts reset); returns how many moved."""
    ids = [check_task_id(t) for t in task_ids]
    if not ids:
        return 0
    reply = yield s.call("requeue", *ids)
    return sum(1 for r in reply if r == "ok")
