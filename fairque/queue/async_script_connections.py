"""Connections a queue keeps for its script calls, beside redis-py's connection pool.

redis-py's pool readies a connection for every command: it polls the socket for unread data
(a system call), takes a lock and records pool metrics, then hands the reply to a retry and
metrics wrapper. Measured on a one-``LPUSH`` EVALSHA against a local server, that is a third
of the round trip's wall time and half of the client's CPU time (``benchmarks/push_split.py``
shows it per call). A queue's hot calls (push, pop, ack, heartbeat) are script calls, whose
replies need none of redis-py's per-command reply parsing, so they go through these
connections instead.

What the pool's poll protects against, a reply left unread on a connection, is prevented
where it starts: a call that does not read its whole reply (a timeout, a lost connection,
``KeyboardInterrupt``, an asyncio cancellation) disconnects its connection, which then
connects afresh on its next call. redis-py's connection does so itself when its write or
read fails or is interrupted; ``exchange`` also covers the moments between them. An asyncio
socket closes on the loop's next turn, so an asyncio call given up takes that turn before
its caller goes on: the server must not hand a blocked read's element (a wake token) to a
connection on its way out (Python 3.11's ``wait_for`` took the turn itself; 3.12's does not). The
client's ``Retry`` still applies (fairque's clients retry a lost connection once, at once);
``health_check_interval`` still pings a connection that has been idle; a forked child drops
the connections it inherited. Each connection is borrowed from the client's pool, checked
once, and kept until ``close`` gives it back: it is made as the client was configured (TLS,
a Unix socket, Sentinel) and counts against ``max_connections``, and the connection a queue
opened with is the one its pushes use. Plain commands, whose replies redis-py parses, stay
on the client.

``async_script_connections.py`` is written by hand; ``script_connections.py`` is generated
from it by ``scripts/unasync.py``.
"""

from __future__ import annotations

import asyncio  # unasync: remove
import os
from collections.abc import Sequence
from typing import Any

import redis.exceptions as rex

from fairque.queue import wire
from fairque.scripts.protocol import Arg


class AsyncScriptConnections:
    """Connections for commands whose replies are taken as they come (script calls); each
    call takes an idle one (or borrows one from the pool) and puts it back when its reply is
    read.

    Args:
        pool: the client's connection pool (``client.connection_pool``), which lends the
            connections.
    """

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self._idle: list[Any] = []  # list.pop and list.append are atomic: threads share it
        self._held: list[Any] = []  # every connection taken from the pool, idle or in use
        self._pid = os.getpid()

    async def call(self, args: Sequence[Arg]) -> Any:
        """Send one command and return its reply.

        Raises:
            redis.ResponseError: the server answered with an error (the connection is fine).
            redis.ConnectionError, redis.TimeoutError: after the client's retries.
        """
        (reply,) = await self.exchange([args])
        if isinstance(reply, rex.ResponseError):
            raise reply
        return reply

    async def exchange(self, commands: Sequence[Sequence[Arg]]) -> list[Any]:
        """Send commands together (one round trip) and return their replies in order; an
        error reply is returned as its ``ResponseError``, not raised."""
        if not commands:
            # Nothing to send. An empty write would also wedge an asyncio transport from
            # Python 3.12 on: the empty buffer entry ``writelines`` keeps is never drained,
            # so the socket polls for writes forever and its ``close`` never completes.
            return []
        conn = await self._take()
        try:
            replies: list[Any] = await conn.retry.call_with_retry(
                lambda: self._round_trip(conn, commands),
                lambda _error: conn.disconnect(),
            )
        except BaseException:
            # The replies may be half read: the connection starts afresh on its next call.
            await conn.disconnect(nowait=True)  # unasync: remove
            await asyncio.sleep(0)  # the socket's close (module docstring)  # unasync: remove
            # unasync: sync-only conn.disconnect()
            self._idle.append(conn)
            raise
        self._idle.append(conn)
        return replies

    async def _round_trip(self, conn: Any, commands: Sequence[Sequence[Arg]]) -> list[Any]:
        await wire.send_async(conn, wire.packed(conn, commands))  # unasync: remove
        # unasync: sync-only conn.send_packed_command(wire.packed(conn, commands))
        replies: list[Any] = []
        for _ in commands:
            try:
                replies.append(await conn.read_response())
            except rex.ResponseError as exc:  # read whole: the next reply follows it
                replies.append(exc)
        return replies

    async def _take(self) -> Any:
        if self._pid != os.getpid():
            # A forked child: the parent's connections are the parent's (a reply meant for
            # one process must not be read by the other). Let them go, unclosed (the pool
            # has started afresh in the child too).
            self._idle, self._held = [], []
            self._pid = os.getpid()
        try:
            return self._idle.pop()
        except IndexError:
            # Borrowed from the pool for good (the one a producer opened with is reused: a
            # process that only pushes keeps one connection), checked once, here.
            conn = await self._pool.get_connection()
            self._held.append(conn)
            return conn

    async def close(self) -> None:
        """Give every connection back to the pool, disconnected (a later call takes one
        again)."""
        held, self._idle, self._held = self._held, [], []
        for conn in held:
            await conn.disconnect()
            await self._pool.release(conn)
