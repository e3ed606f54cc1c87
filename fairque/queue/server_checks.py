"""Checks of the server made when a queue opens: version and eviction policy."""

from __future__ import annotations

from typing import Any

from fairque.core.config import RedisConfig
from fairque.core.exceptions import UnsupportedServer

MIN_VERSION = (7, 0)
SAFE_POLICIES = frozenset({"noeviction"})


def _version(info: dict[str, Any]) -> tuple[int, ...]:
    # Valkey reports redis_version 7.2.4 for compatibility; that is the protocol level we need.
    raw = str(info.get("redis_version") or "0")
    parts = []
    for piece in raw.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def check_server(info: dict[str, Any], cfg: RedisConfig) -> list[str]:
    """Raise :class:`UnsupportedServer` for a server fairque cannot run on safely; return
    warnings for what is allowed but worth knowing."""
    version = _version(info)
    if version < MIN_VERSION:
        need = ".".join(map(str, MIN_VERSION))
        raise UnsupportedServer(
            f"server version {info.get('redis_version')} is too old: fairque needs Redis >= {need} "
            "or Valkey >= 7.2 (functions it uses: ZRANGE BYSCORE/REV options, LPOS, WAITAOF)"
        )
    if cfg.durability == "aof":
        if version < (7, 2):
            raise UnsupportedServer(
                f"redis.durability = 'aof' waits with WAITAOF, which needs Redis >= 7.2 or "
                f"Valkey; the server is {info.get('redis_version')}"
            )
        if str(info.get("aof_enabled", "0")) != "1":
            raise UnsupportedServer(
                "redis.durability = 'aof' needs the server's append-only file: "
                "set appendonly yes (fairque server turns it on)"
            )
    policy = str(info.get("maxmemory_policy", "noeviction"))
    warnings = []
    if policy not in SAFE_POLICIES:
        message = (
            f"maxmemory-policy is {policy!r}: under memory pressure the server would silently "
            "delete tasks and leases. Set it to 'noeviction' "
            "(CONFIG SET maxmemory-policy noeviction), or set redis.require_noeviction = false "
            "to accept that risk"
        )
        if cfg.require_noeviction:
            raise UnsupportedServer(message)
        warnings.append(message)
    return warnings
