"""Every value format between fairque and its Lua scripts, in one place: how a task travels
to ``push`` (its fields and optional sections), how ``pop`` returns a leased task (its row),
lease tokens and run times in acknowledgements. The order of each script's arguments is
declared in :mod:`fairque.scripts.protocol`; what the values inside them look like is here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from fairque.core.codec import decode_json
from fairque.core.exceptions import FairQueueError, InvalidPayload
from fairque.core.models import Lease, Priority, Task, TaskState, trusted
from fairque.core.validation import check_priority, check_task_id, check_user_id
from fairque.queue.session import QueueSession
from fairque.scripts.protocol import Arg
from fairque.tracing import parse_carrier

# A pop reply row, field by field (pop.lua's header says the same): one string per task, the
# fields joined by NUL bytes. The id and the token come first (fairque wrote them: they never
# hold a NUL), the payload last (it is the rest, whatever it holds).
POP_ROW = (
    "task_id", "token", "user", "priority", "attempt", "max_attempts", "created_ms",
    "deadline_ms", "stolen", "waited_ms", "handler", "trace", "payload",
)  # fmt: skip
ROW_SEPARATOR = "\0"

# Values sent to the scripts per task travel as bytes: redis-py passes bytes through as they
# are, while each str goes through five type checks before it is encoded, which was half of
# a batched push's client CPU (when a task sent eight values).
NO_VALUE = b""
_PRIORITY_BYTES = {p: str(p).encode() for p in range(1, 7)}


def row_lease(row: str) -> tuple[str, str]:
    """The task id and lease token of a pop row, however damaged the rest."""
    task_id, token, *_ = row.split(ROW_SEPARATOR, 2)
    return task_id, token


def push_fields(s: QueueSession, task: Task) -> list[Arg]:
    """A task's four fields in a push call (its options travel in sections: push_args)."""
    if not task.checked_ids():
        check_user_id(task.user_id)
        check_task_id(task.task_id)
    pri = check_priority(
        int(task.priority) if isinstance(task.priority, Priority) else task.priority
    )
    payload = task.payload_json.encode()
    limit = s.queue.max_payload_bytes
    if (size := len(payload)) > limit:
        raise InvalidPayload(f"payload is {size} bytes as JSON; the queue's limit is {limit}")
    return [task.task_id.encode(), task.user_id.encode(), _PRIORITY_BYTES[pri], payload]


def _has_options(task: Task) -> bool:
    return bool(
        task.handler
        or task.max_attempts is not None
        or task.execute_after is not None
        or task.delay is not None
        or task.trace
        or task.tenant
        or task.cost is not None
        or task.after
        or task.unique_key is not None
        or task.debounce is not None
    )


_POLICY = {"all_complete": "c", "any_end": "a"}


def _after_value(task: Task) -> bytes:
    if not task.after:
        return NO_VALUE
    return f"{_POLICY[task.after_policy]}|{','.join(task.after)}".encode()


def _debounce_value(task: Task) -> bytes:
    d = task.debounce
    if d is None:
        return NO_VALUE
    return b"%s|%d|%d" % (d.key.encode(), round(d.window * 1000), round(d.max_wait * 1000))


def push_args(s: QueueSession, chunk: Sequence[Task], traced: str) -> list[Arg]:
    """One push call's arguments after the prefix: the limit, the count, each task's four
    fields, then the optional sections (handlers, max attempts, due times, delays, traces,
    tenants, costs, parents, unique keys, debounces: one value per task each), up to the
    last one that carries a value. The usual task sets none of them: four values per task.
    ``traced``: the trace context of a push made inside a span."""
    args: list[Arg] = [s.queue.max_payload_bytes, len(chunk)]
    for task in chunk:
        args += push_fields(s, task)
    if not traced and not any(_has_options(t) for t in chunk):
        return args  # the usual push: no sections to build
    sections: list[list[Arg]] = [
        [t.handler.encode() if t.handler else NO_VALUE for t in chunk],
        [NO_VALUE if t.max_attempts is None else b"%d" % t.max_attempts for t in chunk],
        [NO_VALUE if t.execute_after is None else b"%d" % int(t.execute_after.timestamp() * 1000)
         for t in chunk],
        [NO_VALUE if t.delay is None else b"%d" % round(t.delay * 1000) for t in chunk],
        [(json.dumps(t.trace, separators=(",", ":")) if t.trace else traced).encode()
         for t in chunk],
        [t.tenant.encode() if t.tenant else NO_VALUE for t in chunk],
        [NO_VALUE if t.cost is None else repr(t.cost).encode() for t in chunk],
        [_after_value(t) for t in chunk],
        [NO_VALUE if t.unique_key is None else t.unique_key.encode() for t in chunk],
        [_debounce_value(t) for t in chunk],
    ]  # fmt: skip
    while sections and not any(sections[-1]):
        sections.pop()
    for section in sections:
        args += section
    return args


def ran_ms(task: Task) -> bytes:
    return NO_VALUE if task.run_seconds is None else b"%d" % round(task.run_seconds * 1000)


def ms_time(value: str) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000.0, UTC)


def parse_task(row: str, worker_id: str) -> tuple[Task | None, str]:
    """A leased task from a pop reply row, or (None, why) when its fields are corrupt."""
    fields = row.split(ROW_SEPARATOR, len(POP_ROW) - 1)
    if len(fields) != len(POP_ROW):
        return None, f"corrupt: the task's fields hold {len(fields)} values, not {len(POP_ROW)}"
    task_id, token, user, pri, att, max_att, created, deadline, stolen, waited = fields[:10]
    handler, trace, payload = fields[10:]
    try:
        data = decode_json(payload)
    except ValueError as exc:
        return None, f"corrupt: payload is not valid JSON ({exc.args[0][:80]})"
    try:
        lease = trusted(Lease, {
            "token": token, "worker_id": worker_id, "deadline": ms_time(deadline),
            "attempt": int(att), "stolen": stolen == "1", "waited_ms": int(waited),
        })  # fmt: skip
        values = {
            "task_id": task_id, "user_id": user, "priority": Priority(int(pri)), "payload": data,
            "handler": handler or None, "max_attempts": int(max_att) if max_att else None,
            "execute_after": None, "delay": None, "state": TaskState.LEASED,
            "attempts": int(att), "created_at": ms_time(created) if created else None,
            "lease": lease, "trace": parse_carrier(trace), "tenant": None, "cost": None,
            "after": (), "after_policy": "all_complete", "unique_key": None, "debounce": None,
        }  # fmt: skip
    except ValueError as exc:  # a field written over from outside (not a number, a NUL)
        return None, f"corrupt: unreadable task fields ({str(exc)[:80]})"
    task = trusted(Task, values, {"_payload_json": None, "_run_seconds": None, "_checked": None})
    return task.keep_json(payload), ""


def lease_of(task: Task) -> Lease:
    if task.lease is None:
        raise FairQueueError(f"task {task.task_id} holds no lease: only a popped task can be acked")
    return task.lease


def token_args(tasks: Iterable[Task]) -> list[Arg]:
    args: list[Arg] = []
    for task in tasks:
        args += [task.task_id.encode(), lease_of(task).token.encode()]
    return args
