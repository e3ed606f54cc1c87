"""The connections a queue keeps for its script calls, beside redis-py's pool: a reply never
reaches the wrong caller (threads, a forked child, a call given up halfway), and a
connection the server dropped is made again."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aredis

from fairque import Task, TaskQueue
from fairque.queue.async_script_connections import AsyncScriptConnections
from fairque.queue.script_connections import ScriptConnections
from fairque.queue.transport import one_async_retry, one_retry
from fairque.server import EmbeddedServer
from tests.conftest import CLUSTER, SyncFacade
from tests.support.waiting import wait_for

pytestmark = pytest.mark.skipif(CLUSTER, reason="a cluster's calls go through its node clients")


TIMEOUT = 0.3


def make_lines(kind: str, url: str) -> Any:
    """ScriptConnections over a client's pool, or its asyncio twin (driven synchronously);
    the socket timeout is short, so a call waiting for a late reply gives up soon."""
    options: dict[str, Any] = {"decode_responses": True, "socket_timeout": TIMEOUT}
    if kind == "sync":
        client: Any = redis.Redis.from_url(url, retry=one_retry(), **options)
        return ScriptConnections(client.connection_pool)
    client = aredis.Redis.from_url(url, retry=one_async_retry(), **options)
    return SyncFacade(AsyncScriptConnections(client.connection_pool))


@pytest.fixture
def lines(kind: str, server_url: str) -> Iterator[Any]:
    made = make_lines(kind, server_url)
    yield made
    made.close()


def a_key() -> str:
    return "scriptconn:" + uuid.uuid4().hex


def test_calls_in_a_row_share_one_connection_and_answer_in_order(lines):
    ids = {lines.call(("CLIENT", "ID")) for _ in range(20)}
    assert len(ids) == 1
    assert lines.exchange([("ECHO", "a"), ("INCR", a_key()), ("ECHO", "b")]) == [
        "a",
        1,
        "b",
    ]


def test_an_empty_exchange_sends_nothing_and_the_connections_still_close(kind, server_url):
    lines = make_lines(kind, server_url)
    # An empty write left an asyncio transport polling for writes with nothing to write
    # (Python 3.12 and later): its close waited until redis-py's 5 s timeout raised.
    assert lines.call(("ECHO", "first")) == "first"
    assert lines.exchange([]) == []  # the last call before close: no write clears it after
    lines.close()  # raised TimeoutError after 5 s there


def test_an_error_reply_is_raised_and_leaves_the_connection_usable(lines, raw):
    key = a_key()
    raw.set(key, "text")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        lines.call(("INCR", key))
    replies = lines.exchange([("INCR", key), ("ECHO", "after")])
    assert isinstance(replies[0], redis.ResponseError)
    assert replies[1] == "after"
    assert lines.call(("ECHO", "next")) == "next"


def test_a_reply_given_up_on_by_timeout_never_reaches_the_next_call(lines, raw):
    key = a_key()
    # The server answers the BLPOP only after the client stopped waiting (twice: the client
    # retries a timed-out call once).
    with pytest.raises(redis.TimeoutError):
        lines.call(("BLPOP", key, 5))
    raw.rpush(key, "late")
    assert lines.call(("ECHO", "mine")) == "mine"
    assert raw.lrange(key, 0, -1) == ["late"]  # the dropped connection took nothing


def test_a_call_interrupted_while_waiting_leaves_no_reply_behind(kind, server_url, raw):
    """KeyboardInterrupt (a signal) in a sync call, cancellation of an asyncio call: the
    connection is dropped, so the next call cannot read the interrupted call's reply."""
    key = a_key()
    if kind == "sync":
        client = redis.Redis.from_url(server_url, decode_responses=True, retry=one_retry())
        lines = ScriptConnections(client.connection_pool)

        class Interrupted(Exception):
            pass

        def interrupt(signum: int, frame: Any) -> None:
            raise Interrupted

        before = signal.signal(signal.SIGALRM, interrupt)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            with pytest.raises(Interrupted):
                lines.call(("BLPOP", key, 5))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, before)
        raw.rpush(key, "late")
        assert lines.call(("ECHO", "mine")) == "mine"
        lines.close()
    else:

        async def scenario() -> str:
            client = aredis.Redis.from_url(
                server_url, decode_responses=True, retry=one_async_retry()
            )
            alines = AsyncScriptConnections(client.connection_pool)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(alines.call(("BLPOP", key, 5)), 0.2)
            raw.rpush(key, "late")
            mine: str = await alines.call(("ECHO", "mine"))
            await alines.close()
            return mine

        assert asyncio.run(scenario()) == "mine"
    assert raw.lrange(key, 0, -1) == ["late"]


def test_a_connection_the_server_closed_is_made_again(lines, raw):
    first = lines.call(("CLIENT", "ID"))
    raw.client_kill_filter(_id=first)
    assert lines.call(("ECHO", "again")) == "again"
    assert lines.call(("CLIENT", "ID")) != first


def test_threads_sharing_them_each_get_their_own_replies(server_url):
    client = redis.Redis.from_url(server_url, decode_responses=True, retry=one_retry())
    lines = ScriptConnections(client.connection_pool)
    wrong: list[tuple[str, Any]] = []

    def caller(t: int) -> None:
        for i in range(300):
            sent = f"{t}-{i}"
            got = lines.call(("ECHO", sent))
            if got != sent:
                wrong.append((sent, got))

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    lines.close()
    assert wrong == []


def _child_client_id(queue: Any, out: Any) -> None:
    out.put((queue._lines.call(("CLIENT", "ID")), queue.push(Task.create("child", 3, 1)).created))


def test_a_forked_child_uses_connections_of_its_own(make_config, raw):
    with TaskQueue(make_config()) as q:
        assert q.push(Task.create("parent", 3, 1)).created
        parent_id = q._lines.call(("CLIENT", "ID"))
        ctx = multiprocessing.get_context("fork")
        out = ctx.Queue()
        child = ctx.Process(target=_child_client_id, args=(q, out))
        child.start()
        child_id, created = out.get(timeout=30)
        child.join(timeout=30)
        assert child.exitcode == 0
        assert created
        assert child_id != parent_id
        # The parent's connection is intact: its next calls read their own replies.
        assert q._lines.call(("CLIENT", "ID")) == parent_id
        assert q.push(Task.create("parent", 3, 2)).created
        assert q.stats().counters["pushed"] == 3


def test_a_queue_that_only_pushes_holds_one_connection(make_config, raw):
    """The connection the queue opened with (its server check) is the one its pushes take,
    and it is closed with the queue."""
    start = raw.client_id()  # connections made after this one have higher ids

    def newer() -> list[str]:
        return [c["id"] for c in raw.client_list() if int(c["id"]) > start]

    with TaskQueue(make_config()) as q:
        for i in range(5):
            assert q.push(Task.create("solo", 3, i)).created
        assert newer() == [str(q._lines.call(("CLIENT", "ID")))]
    # The server notices a closed connection on its next turn: wait for it.
    assert wait_for(lambda: not newer(), timeout=10) is True


def test_a_write_the_server_does_not_take_times_out_and_the_next_call_works(kind):
    """A server that stops reading (here: stopped by SIGSTOP) makes a large write wait once
    the socket buffers are full: the write gives up after the socket timeout like a read
    (the asyncio connections bound it themselves, wire.send_async), the connection keeps
    its timeout for the calls after, and once the server reads again the next call works."""
    with EmbeddedServer() as server:
        made = make_lines(kind, server.url)
        try:
            assert made.call(("ECHO", "before")) == "before"
            assert server.pid is not None
            os.kill(server.pid, signal.SIGSTOP)
            try:
                with pytest.raises(redis.TimeoutError):
                    made.call(("ECHO", "x" * 32_000_000))  # far more than the socket buffers
            finally:
                os.kill(server.pid, signal.SIGCONT)
            held = made._held  # SyncFacade passes attributes through
            assert held and all(conn.socket_timeout == TIMEOUT for conn in held)
            assert made.call(("ECHO", "after")) == "after"
        finally:
            made.close()
