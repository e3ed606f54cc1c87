"""JSON encoding of payloads and results, with the size and depth limits of docs/reliability.md.

JSON is the only format on the wire and at rest: nothing is ever pickled.
"""

from __future__ import annotations

import json
from typing import Any

from fairque.core.exceptions import InvalidPayload

DEFAULT_MAX_BYTES = 256 * 1024
DEFAULT_MAX_DEPTH = 32

_encoder = json.JSONEncoder(allow_nan=False, separators=(",", ":"), ensure_ascii=False)


def _depth_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` nests containers deeper than ``limit`` (iterative, no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list | tuple):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in item)
    return False


def encode_json(
    value: Any,
    *,
    what: str = "payload",
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> str:
    """Encode ``value`` as compact JSON or raise :class:`InvalidPayload` naming the problem
    (too deep first, as a walk of the value before encoding it would)."""
    deeper = f"{what} is nested deeper than {max_depth} levels"
    try:
        text = _encoder.encode(value)
    except (ValueError, TypeError, RecursionError) as exc:
        if _depth_exceeds(value, max_depth):
            raise InvalidPayload(deeper) from None
        if isinstance(exc, RecursionError):
            raise InvalidPayload(f"{what} is nested too deeply (or refers to itself)") from None
        if isinstance(exc, TypeError):  # set, bytes, datetime, arbitrary objects
            raise InvalidPayload(f"{what} is not JSON-serializable: {exc}") from None
        # NaN / Infinity, a circular reference
        raise InvalidPayload(f"{what} is not valid JSON: {exc}") from None
    # Each container opens with one bracket: a text with no more than max_depth of them (the
    # usual payload) cannot nest deeper, and the walk (0.7 µs for a one-key object, more
    # with each value) is left out. Brackets inside strings only overcount.
    if text.count("[") + text.count("{") > max_depth and _depth_exceeds(value, max_depth):
        raise InvalidPayload(deeper)
    # A str of n characters is n..4n bytes in UTF-8: encode only when it could be too big.
    if len(text) * 4 > max_bytes and (size := len(text.encode("utf-8"))) > max_bytes:
        raise InvalidPayload(f"{what} is {size} bytes as JSON; the limit is {max_bytes}")
    return text


def decode_json(text: str) -> Any:
    """Decode JSON text written by :func:`encode_json` (raises ``ValueError`` if corrupt)."""
    return json.loads(text)
