"""The script connections pack commands with hiredis directly: the bytes must be the ones
redis-py's own packer writes, for every kind of argument a script call carries."""

from __future__ import annotations

import pytest
from redis.connection import Connection, PythonRespSerializer

from fairque.queue import wire as packing

COMMANDS = [
    ("FCALL", "fairque_0123_push", 1, "fq:{q}:meta", "fq:{q}:", 262144, 1, b"id", b"\xc3\xa9",
     b"3"),
    ("EVALSHA", "a" * 40, 0, 1.5, -7, b"", "", "naïve"),
    ("PING",),
]  # fmt: skip


def redis_py_bytes(commands: list[tuple[object, ...]]) -> bytes:
    """What redis-py's pure-Python packer sends (utf-8, as fairque's clients are made)."""
    conn = Connection()
    conn._command_packer = PythonRespSerializer(conn._buffer_cutoff, conn.encoder.encode)
    return b"".join(bytes(part) for part in conn.pack_commands(commands))


@pytest.mark.parametrize("count", [1, 3])
def test_packed_commands_are_what_redis_py_sends(count: int) -> None:
    commands = COMMANDS[:count]
    assert packing.PACK_COMMAND is not None  # redis[hiredis] is a dependency
    assert b"".join(packing.packed(Connection(), commands)) == redis_py_bytes(commands)


def test_without_hiredis_redis_py_packs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packing, "PACK_COMMAND", None)
    out = packing.packed(Connection(), COMMANDS)
    assert b"".join(bytes(p) for p in out) == redis_py_bytes(COMMANDS)
