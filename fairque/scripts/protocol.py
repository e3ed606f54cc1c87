"""The call protocol of every Lua script, declared once.

Each script takes ``KEYS[1]`` = the queue's meta key and ``ARGV[1]`` = the key prefix, then
the fields declared here: ``argv`` one value each (``ARGV[2]`` onwards), then ``each``
repeated once per item (the item count is the last ``argv`` field), then ``rest``: any number
of values. ``QueueSession.call`` checks every call against its spec, so a call built with a
missing or extra field fails in Python, by name, before it reaches the server; and
``tests/unit/test_protocol.py`` checks each spec against the script's ``-- Call`` header
line (and its ``ARGV[k]`` lines), so the Lua side and the Python side cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from fairque.core.exceptions import FairQueueError

# A value passed to a script: bytes travel as they are (the client encodes a str first).
Arg = str | bytes | int | float


class ProtocolError(FairQueueError):
    """A script call does not match the script's declared arguments (a bug in fairque)."""


@dataclass(frozen=True, slots=True)
class ScriptSpec:
    """One script's arguments after the prefix (see the module docstring)."""

    name: str
    argv: tuple[str, ...] = ()
    each: tuple[str, ...] = ()
    rest: str = ""  # what the trailing values are ('' = none)
    optional: int = 0  # how many trailing ``argv`` fields may be left out

    def check(self, args: tuple[Arg, ...]) -> None:
        """Raise ProtocolError unless ``args`` (after the prefix) fit this spec."""
        fixed, n = len(self.argv), len(args)
        if n < fixed - self.optional or (n > fixed and not (self.each or self.rest)):
            raise ProtocolError(f"{self.name}: {n} arguments for {self.signature()}")
        if self.each:
            count = int(args[fixed - 1])
            extra = n - fixed - count * len(self.each)  # what follows the items
            sections = bool(self.rest) and count > 0 and extra % count == 0
            if extra < 0 or (extra and not sections):
                raise ProtocolError(f"{self.name}: {n} arguments for {count} items")

    def signature(self) -> str:
        """The call as the script's header writes it: ``-- Call  name(prefix, a, b, ...)``."""
        parts = ["prefix", *self.argv]
        if self.optional:
            parts[-self.optional :] = [f"[{p}]" for p in parts[-self.optional :]]
        if self.each:
            parts.append("{" + ", ".join(self.each) + "} * " + self.argv[-1])
        if self.rest:
            parts.append(self.rest + "...")
        return f"{self.name}({', '.join(parts)})"


RETRY_POLICY = ("retry_base_ms", "retry_factor", "retry_cap_ms", "default_max_attempts")
POP_ARGV = (
    "aging_us", "worker_id", "lease_ms", "count", "promote_batch", "registration_fp",
    *RETRY_POLICY, "nonce", "steal_after_us", "vt_floor",
)  # fmt: skip
REGISTER_ARGV = (
    "worker_id", "ttl_ms", "registration_fp", "assigned", "steal", "settings_fp", "settings",
    "writer",
)  # fmt: skip
USER_ADMIN_ARGV = ("action", "user", "weight_or_rate", "ms_or_burst", "end_ms")
BEAT_ARGV = ("worker_id", "ttl_ms", "reap_limit", *RETRY_POLICY, "registration_fp")
FAIL_EACH = ("task_id", "token", "error", "error_type", "traceback", "backoff_ms", "ran_ms")
TASK_FIELDS = ("task_id", "user", "priority", "payload")

SPECS: dict[str, ScriptSpec] = {
    spec.name: spec
    for spec in (
        # after the tasks: optional sections of n values each (handlers, max attempts, due
        # times, delays, traces, tenants, costs)
        ScriptSpec("push", ("max_bytes", "n"), TASK_FIELDS, "sections"),
        ScriptSpec("pop", POP_ARGV),
        ScriptSpec("complete", ("result_ttl_ms", "n"), ("task_id", "token", "result", "ran_ms")),
        ScriptSpec("fail", ("default_max_attempts", "n"), FAIL_EACH),
        ScriptSpec("heartbeat", ("lease_ms", "n"), ("task_id", "token")),
        ScriptSpec("release", ("n",), ("task_id", "token")),
        ScriptSpec("requeue", (), (), "task_id"),
        ScriptSpec("retry_now", (), (), "task_id"),
        ScriptSpec("worker_beat", BEAT_ARGV, (), "field_value"),
        ScriptSpec("sched_lock", ("action", "token", "ttl_ms")),
        ScriptSpec("user_admin", USER_ADMIN_ARGV, optional=3),
        ScriptSpec("drain", ("user", "priorities", "limit", "ttl_ms")),
        ScriptSpec("purge", (), (), "task_id"),
        ScriptSpec("explain", ("aging_us", "task_id")),
        ScriptSpec("user_rows", ("first_minute", "minutes"), (), "user"),
        ScriptSpec("sched_advance", (), (), "name_fire_ms"),
        ScriptSpec("register", REGISTER_ARGV),
        ScriptSpec("unregister", ("worker_id",)),
        ScriptSpec("settings_apply", ("settings_fp", "settings", "writer")),
        ScriptSpec("cancel", ("who", "ttl_ms", "n"), ("task_id",)),
        ScriptSpec("watch", ("task_id",)),
        ScriptSpec("progress", ("n",), ("task_id", "token", "fraction", "note")),
    )
}
