"""The Lua scripts and their loader.

Each script is composed at load time from three parts, so nothing is copy-pasted between
scripts: ``local PREFIX = ARGV[1]``, the key functions generated from
:data:`fairque.core.keys.TEMPLATES`, ``common.lua``, then the script's own file. Every script
takes ``KEYS[1]`` = the queue's meta key (which routes it to the queue's slot) and
``ARGV[1]`` = the queue's key prefix.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from fairque.core.config import QueueConfig
from fairque.core.keys import lua_key_functions

SCRIPT_NAMES = (
    "push",
    "pop",
    "complete",
    "fail",
    "heartbeat",
    "release",
    "requeue",
    "worker_beat",
    "sched_lock",
    "user_admin",
    "drain",
    "purge",
    "explain",
    "sched_advance",
    "sync_config",
)


@dataclass(frozen=True, slots=True)
class LuaScript:
    """A composed script: its name, full source and SHA1 (what EVALSHA takes)."""

    name: str
    source: str
    sha: str


def _read(name: str) -> str:
    return resources.files(__package__).joinpath("lua", f"{name}.lua").read_text("utf-8")


@cache
def load_script(name: str) -> LuaScript:
    """Compose script ``name`` (cached)."""
    if name not in SCRIPT_NAMES:
        raise KeyError(f"no Lua script named {name!r}")
    source = "\n".join(
        [
            f"-- fairque script: {name}",
            "local PREFIX = ARGV[1]",
            f"local DEFAULT_DLQ_MAX = {QueueConfig().dlq_max}",
            lua_key_functions(),
            _read("common"),
            _read(name),
        ]
    )
    return LuaScript(name, source, hashlib.sha1(source.encode("utf-8")).hexdigest())


def all_scripts() -> dict[str, LuaScript]:
    """Every script, by name."""
    return {name: load_script(name) for name in SCRIPT_NAMES}
