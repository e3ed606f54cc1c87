"""The one place that knows fairque's key schema.

Every key of a queue starts with ``fq:{<queue>}:``; the braces make the queue name a Redis
Cluster hash tag, so every script of a queue touches a single slot. A partition of a queue
(scale-out) uses the tag ``{<queue>#<k>}``.

The Lua scripts build keys with functions generated from :data:`TEMPLATES` by
:func:`lua_key_functions`, so the schema is written down exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fairque.core.validation import (
    check_priority,
    check_queue_name,
    check_task_id,
    check_user_id,
)

# name -> suffix after the queue prefix; ``{x}`` is filled with a validated id.
TEMPLATES: dict[str, str] = {
    "meta": "meta",  # hash: vt (virtual time), seq (last enqueue µs), lease_seq
    "task": "task:{task_id}",  # hash: one task's fields, state, lease, error, result
    "prio": "u:{user}:p{pri}",  # list: a user's ready tasks of one priority, FIFO, "<seq>|<id>"
    # zset: the round-robin of a pool: users with ready work (score = pass) and, for users
    # that belong to a tenant, one entry "+<tenant>" per tenant (score = the tenant's pass)
    "ready": "ready:{pool}",
    "tready": "tready:{pool}:{tenant}",  # zset: a tenant's users with ready work, score = pass
    "tactive": "tactive",  # set: "pool|tenant" of every tenant in a round-robin now
    "tstate": "tstate",  # hash: tenant -> its pass (out of the round-robin); "<tenant>|vt"
    "utenant": "utenant",  # hash: user -> its tenant (set by push; forgotten when idle)
    "runtime": "runtime",  # hash: user -> mean run seconds (EWMA, fairness by time); "*": all
    # Rate limits (GCRA on the server clock): user or "+<tenant>" -> theoretical arrival time
    # of its next token (ms); runtime overrides -> "rate/s|burst|until ms ('' = until unset)"
    "rl": "rl",
    "rlover": "rl:override",
    "throttled": "throttled",  # zset: user or "+<tenant>|<pool>" -> when its next token is due
    "soft": "soft",  # zset: soft-capped users at their cap with ready work -> pass
    "pass": "pass",  # hash: user -> pass, kept while the user has no ready work (until idle)
    "idle": "idle",  # zset: user -> when it went idle (nothing queued, nothing in flight)
    "inflight": "inflight",  # zset: task_id -> lease deadline (ms)
    "delayed": "delayed",  # zset: task_id -> due time (ms)
    "dlq": "dlq",  # zset: task_id -> time it died (ms)
    "stats": "stats",  # hash: event counters (pushed, completed, ...)
    "backlog": "backlog",  # hash: "user|p" -> ready count at priority p; "*" -> all ready
    "ubacklog": "ubacklog",  # zset: user -> ready count (top users by backlog, paging)
    "uinflight": "uinflight",  # hash: user -> leases held
    "paused": "paused",  # set: paused users
    "quarantine": "quarantine",  # hash: user -> why its queue keys cannot be served (paused too)
    # User settings in force (written by the first worker to register, or `config apply`):
    # user -> "weight|max_inflight[|boosted weight|boost end ms]"; "*" -> default weight;
    # "#max_payload", "#dlq_max" -> queue-wide limits every script enforces.
    "settings": "settings",
    "settings_meta": "settings:meta",  # hash: fp, writer, at (ms), how (seed|apply)
    "settings_docs": "settings:docs",  # hash: settings fingerprint -> JSON document
    # Routing, derived from the live workers' registrations (never from a config mirror):
    "routes": "routes",  # hash: worker_id -> "reg fp|settings fp|assigned csv|steal csv or *"
    "reg": "reg",  # zset: worker_id -> when its registration goes stale (ms)
    "named": "named",  # hash: user -> "assigning workers csv|stealing workers csv"
    "upool": "upool",  # hash: user -> its pool (only users some live registration names)
    "scope": "scope",  # hash: worker_id -> "reg fp|home pools csv|steal pools csv or *"
    "readyidx": "readyidx",  # zset: pool -> lowest pass in it (pools with ready users)
    "workers": "workers",  # zset: worker_id -> last heartbeat (ms)
    # Idle workers block on a wake list (BLPOP) rather than poll: a user entering a pool's
    # round-robin leaves one token in its pool's list ('wake' for the users no worker names,
    # which the workers that serve every pool wait on). At most one token waits in a list.
    "wake": "wake",
    "wakep": "wake:{pool}",
    # list: ids of tasks whose cancel a worker must act on (it holds their leases)
    "cancels": "cancels:{worker_id}",
    # stream: a waited-on task's events (progress, retries, its end), written only once a
    # producer waits on it (task field 'w'); read with a blocking XREAD (results, watch)
    "events": "ev:{task_id}",
    # Dependencies (docs/dependencies.md): a task pushed with `after` waits in state 'blocked'
    # until its parents end. Each parent keeps the list of its dependents (kept after its end,
    # with its TTL, so `task show` lists them); a parent's end queues
    # "<outcome>|<offset>|<ttl ms>|<id>" on the todo list, which every pop and ack works
    # through a bounded slice at a time.
    "kids": "kids:{task_id}",  # list: the ids of the tasks that wait on this one
    "deptodo": "deps:todo",  # list: parents whose end is not yet passed on to all dependents
    "early": "deps:early",  # hash: id of a parent not pushed yet -> edges waiting on it
    "blocked": "blocked",  # hash: user -> its blocked tasks; '*' -> all
    # string: the one queued or running task of a unique key (deleted when that task ends)
    "unique": "uq:{user}/{ukey}",
    # string: "<task id>|<first push ms>" of a debounced key's waiting task (expires)
    "debounce": "db:{user}/{ukey}",
    "worker": "worker:{worker_id}",  # hash: one worker's registry entry (expires)
    "tp": "tp:{minute}",  # hash per minute: event -> count (throughput charts; expires)
    "srv": "srv:{minute}",  # hash per minute: user -> tasks dispatched (served share; expires)
    "psh": "psh:{minute}",  # hash per minute: user -> tasks pushed (noisy neighbours; expires)
    "waits": "waits:{user}",  # list: newest waits first (ms; 100 read, trimmed at 150)
    "waith": "waith",  # hash: wait histogram, bucket upper bound (ms) -> count; sum_ms
    # stream: the queue's event tail (completed, failed, dead, canceled, throttled, requeued),
    # one entry per script call that had any, capped (the TUI's live tail reads it)
    "tail": "tail",
    "audit": "audit",  # stream: admin mutations (who, what, how many), capped
    "sched_defs": "sched:defs",  # hash: schedule name -> definition (JSON)
    "sched_last": "sched:last",  # hash: schedule name -> last fire time enqueued (ms)
    "sched_lock": "sched:lock",  # string: the leader scheduler's token (expires)
}

_FIELD = re.compile(r"\{(\w+)\}")
_POOL_RE = re.compile(r"[A-Za-z0-9_]{1,32}")


def _check_pool(pool: object) -> str:
    if not isinstance(pool, str) or not _POOL_RE.fullmatch(pool):
        raise ValueError(f"bad pool name {pool!r}")
    return pool


def _check_minute(minute: object) -> int:
    if isinstance(minute, bool) or not isinstance(minute, int) or minute < 0:
        raise ValueError(f"bad minute {minute!r}")
    return minute


_CHECKS: dict[str, Callable[[object], object]] = {
    "task_id": check_task_id,
    "ukey": check_task_id,  # unique and debounce keys use the task-id alphabet
    "user": check_user_id,
    "tenant": check_user_id,  # tenant ids use the user-id alphabet
    "pool": _check_pool,
    "worker_id": check_user_id,  # worker ids use the user-id alphabet
    "pri": check_priority,
    "minute": _check_minute,
}


def hash_tag(queue: str, partition: int | None = None) -> str:
    """The hash tag shared by every key of ``queue`` (or of one partition of it)."""
    check_queue_name(queue)
    return f"{{{queue}}}" if partition is None else f"{{{queue}#{partition}}}"


class QueueKeys:
    """Key names of one queue (or one partition). Ids are validated before use."""

    __slots__ = ("prefix", "queue")

    def __init__(self, queue: str, partition: int | None = None) -> None:
        self.queue = queue
        self.prefix = f"fq:{hash_tag(queue, partition)}:"

    def key(self, name: str, **ids: str | int) -> str:
        """Build key ``name`` of :data:`TEMPLATES`, validating every id that goes into it."""
        for field, value in ids.items():
            _CHECKS[field](value)
        return self.prefix + TEMPLATES[name].format(**ids)

    @property
    def meta(self) -> str:
        return self.key("meta")

    def task(self, task_id: str) -> str:
        return self.key("task", task_id=task_id)

    def prio(self, user: str, priority: int) -> str:
        return self.key("prio", user=user, pri=priority)

    def ready(self, pool: str) -> str:
        return self.key("ready", pool=pool)


def _lua_concat(template: str, args: list[str]) -> str:
    """The Lua expression of a key: ``PREFIX`` and the template's text, each field replaced
    by its argument (parenthesised: an argument may hold ``or``, which binds looser)."""
    fields = iter(args)
    body = "PREFIX .. '" + _FIELD.sub(lambda m: "' .. " + next(fields) + " .. '", template) + "'"
    return body.replace(" .. ''", "")


def lua_key_functions(only: set[str] | None = None) -> str:
    """Lua functions ``K.<name>(id)`` building each key from ``PREFIX`` (set by the script);
    ``only`` limits them to the names a script uses."""
    lines = ["local K = {}"]
    for name, template in TEMPLATES.items():
        if only is not None and name not in only:
            continue
        params = _FIELD.findall(template)
        lines.append(
            f"K.{name} = function({', '.join(params)}) return {_lua_concat(template, params)} end"
        )
    return "\n".join(lines) + "\n"


def lua_key_expression(name: str, args: list[str]) -> str:
    """``K.<name>(args)`` written out as one expression (no function call at run time)."""
    template = TEMPLATES[name]
    if len(args) != len(_FIELD.findall(template)):
        raise ValueError(f"K.{name} takes {len(_FIELD.findall(template))} arguments: {args}")
    return "(" + _lua_concat(template, [f"({a.strip()})" for a in args]) + ")"
