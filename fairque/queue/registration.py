"""Registering a consumer, as a sans-IO operation: a worker's routing (whom it serves) and
the user settings its configuration offers (seeded once; a difference is a conflict)."""

from __future__ import annotations

import getpass
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any

from fairque.queue.routing import SettingsDoc, describe_diff
from fairque.queue.session import Call, CommandCall, Op, QueueSession, ScriptCall

log = logging.getLogger("fairque.queue")


@dataclass(frozen=True, slots=True)
class Registered:
    """What registering answered about the user settings."""

    status: str  # none | seeded | same | conflict
    settings_fp: str  # the fingerprint of the settings in force ('' = defaults)
    writer: str
    written_at_ms: int
    how: str  # seed | apply
    differences: tuple[str, ...] = ()  # this process's settings vs the ones in force


def process_label() -> str:
    """Who a process is, for `fairque config show` and audit entries."""
    return f"{getpass.getuser()}@{socket.gethostname()}:{os.getpid()}"


def register_call(s: QueueSession) -> ScriptCall:
    reg = s.registration
    doc = s.settings if s.settings.has_opinion else None
    return s.call(
        "register",
        reg.worker_id if reg else "-",
        s.registration_ttl_ms,
        s.registration_fp,
        reg.assigned_csv if reg else "",
        reg.steal_spec if reg else "",
        doc.fingerprint if doc else "",
        doc.to_json() if doc else "",
        reg.worker_id if reg else process_label(),
    )


def register(s: QueueSession) -> Op[Registered]:
    """Register this consumer: its routing (a worker) and the settings it offers."""
    reply = yield register_call(s)
    return registered(s, reply)


def registered(s: QueueSession, reply: list[Any]) -> Registered:
    """Parse a register reply; a settings conflict is logged once per registration."""
    status, fp, writer, at, how, in_force = reply
    s.needs_register = False
    diff: tuple[str, ...] = ()
    if status == "conflict":
        diff = tuple(
            s.settings.diff(SettingsDoc.from_json(in_force) if in_force else SettingsDoc())
        )
        log.warning(
            "config_conflict: queue %s: this process's user settings differ from the ones in "
            "force (written by %s, %s); those stay in force: %s. Run `fairque config apply` "
            "with the right file to change them.",
            s.queue.name, writer, how, describe_diff(list(diff)),
        )  # fmt: skip
    return Registered(status, fp, writer, int(at or 0), how, diff)


def leave_calls(s: QueueSession, worker_id: str) -> list[Call]:
    """A stopping worker leaves the registry and the routing."""
    return [
        CommandCall(("ZREM", s.keys.key("workers"), worker_id)),
        CommandCall(("DEL", s.keys.key("worker", worker_id=worker_id))),
        s.call("unregister", worker_id),
    ]
