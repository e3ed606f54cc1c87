"""Rate limits as people write them: ``"50/s"``, ``"3000/m"``, ``"2/h"``."""

from __future__ import annotations

import math
import re

from fairque.core.exceptions import InvalidRate

_RATE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*")
_PER_SECOND = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600,
               "hour": 3600}  # fmt: skip
MIN_PER_SECOND = 1 / 3600  # 1/h: the slowest rate, so no token is more than an hour away
MAX_PER_SECOND = 1_000_000


def parse_rate(text: object, field: str = "rate") -> float:
    """Tasks per second from ``"N/s"``, ``"N/m"`` or ``"N/h"``; :class:`InvalidRate` naming
    ``field`` otherwise."""
    if not isinstance(text, str) or not (m := _RATE.fullmatch(text)):
        raise InvalidRate(
            f"{field}: {text!r} is not a rate; write it as N/s, N/m or N/h (e.g. '50/s')"
        )
    per_second = float(m.group(1)) / _PER_SECOND[m.group(2)]
    if not MIN_PER_SECOND <= per_second <= MAX_PER_SECOND:
        raise InvalidRate(f"{field}: {text!r} is outside 1/h .. {MAX_PER_SECOND:,}/s")
    return per_second


def default_burst(per_second: float) -> int:
    """A tenth of a second's worth of tokens, at least 1: enough that a worker waking from
    its idle poll finds the tokens that accrued meanwhile."""
    return max(1, math.ceil(per_second / 10))


def show_rate(per_second: float) -> str:
    """The rate the way it would be written: per second, minute or hour, whichever is whole."""
    for unit, span in (("s", 1), ("m", 60), ("h", 3600)):
        n = per_second * span
        if n >= 1 and abs(n - round(n)) < 1e-9:
            return f"{round(n)}/{unit}"
    return f"{per_second:g}/s"


def parse_stored(raw: str | None) -> tuple[float, int] | None:
    """A limit as the server stores it, ``"<per second>|<burst>"``."""
    if not raw:
        return None
    rate, _, burst = raw.partition("|")
    try:
        per_second = float(rate)
    except ValueError:
        return None
    return (per_second, max(int(burst or 1), 1)) if per_second > 0 else None


def limit_in_force(
    override: str | None, configured: str | None, now_ms: int
) -> tuple[float, int] | None:
    """What pop enforces: a runtime override ``"rate|burst|until"`` while it lasts (an empty
    rate lifts the limit), else the configured ``"rate|burst"``."""
    if override:
        rate, burst, until = [*override.split("|"), "", "", ""][:3]
        if not until or int(until) > now_ms:
            return parse_stored(f"{rate}|{burst}") if rate else None
    return parse_stored(configured)


def tokens_left(limit: tuple[float, int], tat: str | None, now_ms: int) -> int:
    """Tokens a GCRA bucket holds now, given its theoretical arrival time (ms)."""
    per_second, burst = limit
    interval = 1000 / per_second
    arrival = min(max(float(tat) if tat else now_ms, now_ms), now_ms + interval * burst)
    return max(0, min(burst, int((now_ms + interval * burst - arrival) // interval)))


def next_token_ms(limit: tuple[float, int], tat: str | None, now_ms: int) -> int | None:
    """When an empty bucket gets its next token (None: it has one now)."""
    per_second, burst = limit
    interval = 1000 / per_second
    arrival = min(float(tat) if tat else now_ms, now_ms + interval * burst)
    due = arrival - interval * (burst - 1)
    return int(due) + 1 if due > now_ms else None
