"""Commands packed into the wire protocol for the script connections
(``async_script_connections.py`` and its generated sync twin)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fairque.scripts.protocol import Arg


def _hiredis_packer() -> Any:
    try:
        import hiredis
    except ImportError:  # a dependency (redis[hiredis]); without it, redis-py's own packer
        return None
    return hiredis.pack_command


PACK_COMMAND = _hiredis_packer()


def packed(conn: Any, commands: Sequence[Sequence[Arg]]) -> list[bytes]:
    """The commands in the wire protocol, one buffer. hiredis packs them directly: redis-py's
    ``pack_commands`` checks and copies every argument first (3.4 µs for a push's call, 1 µs
    directly). Arguments are str, bytes and numbers, and a command's name is one word (redis-py
    would split ``"SCRIPT LOAD"``)."""
    if PACK_COMMAND is None:
        return list(conn.pack_commands(commands))
    return [b"".join([PACK_COMMAND(tuple(command)) for command in commands])]
