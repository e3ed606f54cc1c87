"""Durability waits: a push that must be on disk (WAITAOF) or on replicas (WAIT) before it
counts, sent in the same pipeline as the push."""

from __future__ import annotations

from typing import Any

from fairque.core.exceptions import DurabilityNotConfirmed
from fairque.queue.session import CommandCall, QueueSession


def durability_call(s: QueueSession) -> CommandCall | None:
    r = s.config.redis
    # Routed by the partition's key: on a cluster the wait reaches the node that took the push,
    # in the same pipeline right after it.
    if r.durability == "aof":
        return CommandCall(("WAITAOF", 1, 0, r.durability_timeout_ms), route=s.keys.meta)
    if r.durability == "replicas":
        args = ("WAIT", r.durability_replicas, r.durability_timeout_ms)
        return CommandCall(args, route=s.keys.meta)
    return None


def check_durability(s: QueueSession, acked: Any) -> None:
    r = s.config.redis
    if r.durability == "aof":
        if int(acked[0]) < 1:
            raise DurabilityNotConfirmed(
                f"push not confirmed on disk within {r.durability_timeout_ms} ms (WAITAOF); "
                "pushing the same task again is safe"
            )
    elif int(acked) < r.durability_replicas:
        raise DurabilityNotConfirmed(
            f"push reached {int(acked)} of {r.durability_replicas} replicas within "
            f"{r.durability_timeout_ms} ms (WAIT); pushing the same task again is safe"
        )
