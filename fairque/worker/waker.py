"""``Waker``: what an idle worker blocks on instead of polling, and how a running task's
cancel reaches the worker that holds it.

A thread per slot group (all partitions on one server; one partition each on a cluster,
where a blocking call's keys must share a slot) blocks in ``BLPOP`` on:

- the worker's cancels list (``cancels:<worker>``): cancel.lua appends the id of a task whose
  cancel was asked for while this worker holds it; the worker learns of it at once;
- while the worker has free slots, the wake lists of the pools it serves (its registration's
  scope: ``wake:<pool>`` for its home and steal pools, ``wake`` when it steals from every
  pool): a user entering a round-robin leaves a token there (roundrobin.lua ``wake_pool``).

The worker's own poll stays as the fallback (delayed tasks, throttled users, stealing after
``steal_after``), so a lost token costs at most one poll interval, never a task. The thread
has a client of its own: a blocking call never holds a connection the worker's loop needs.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import redis

from fairque.core.config import FairQueueConfig
from fairque.queue.session import QueueSession
from fairque.queue.transport import SyncClient, make_client

log = logging.getLogger("fairque.worker")

SCOPE_REFRESH = 2.0  # seconds: how long the pools a worker serves are taken as read
BLOCK_MAX = 1.0  # seconds: the longest blocking call (under the socket timeout)
NUDGE = ""  # a cancels-list value that only wakes the thread (to listen again, or to stop)


class Waker:
    """Blocks on the worker's wake and cancels lists (see the module) in background threads.

    Args:
        config: the queue's settings (the server, the socket timeout).
        sessions: the partitions the worker consumes.
        worker_id: the worker whose cancels list and scope are read.
        wants_work: whether the worker has free slots (then it listens for wake tokens).
        claim: called with a token taken: True when the worker will pop for it (then
            ``on_wake`` is called), False to hand the token back (a long poll waits for it).
        on_wake: called (in the waker's thread) when a token says work is waiting.
        on_cancel: called (in the waker's thread) with a task id whose cancel was asked for.
    """

    def __init__(
        self,
        config: FairQueueConfig,
        sessions: list[QueueSession],
        worker_id: str,
        wants_work: Callable[[], bool],
        claim: Callable[[], bool],
        on_wake: Callable[[], object],
        on_cancel: Callable[[str], object],
    ) -> None:
        self._config = config
        self._worker_id = worker_id
        self._wants_work = wants_work
        self._claim = claim
        self._on_wake = on_wake
        self._on_cancel = on_cancel
        # One blocking call may name keys of one slot only on a cluster.
        self._groups = [[s] for s in sessions] if config.redis.cluster else [sessions]
        self._block = min(BLOCK_MAX, config.redis.socket_timeout / 2)
        self._stopping = threading.Event()
        self._listening = [False] * len(self._groups)  # a call with the wake keys is out
        self._client: SyncClient | None = None
        self._threads: list[threading.Thread] = []
        self._keys: list[list[str]] = [[] for _ in self._groups]  # as last read, per group

    def start(self) -> None:
        self._client = make_client(self._config.redis)
        for i in range(len(self._groups)):
            t = threading.Thread(
                target=self._serve, args=(i,), name=f"fairque-waker-{self._worker_id}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Stop the threads (each is nudged out of its blocking call) and close the client."""
        self._stopping.set()
        for i in range(len(self._groups)):
            self._nudge(i)
        for t in self._threads:
            t.join(self._block + 1)
        if self._client is not None:
            self._client.close()

    def wake_keys(self) -> list[str]:
        """The wake lists the worker waits on (as last read; empty until first read), for a
        long poll of the worker's own (one group only)."""
        return list(self._keys[0]) if len(self._keys) == 1 else []

    def listen(self) -> None:
        """The worker has free slots and found nothing: make sure every thread listens for
        wake tokens (a thread blocked without them is nudged to block again with them)."""
        for i, listening in enumerate(self._listening):
            if not listening:
                self._nudge(i)

    # -- the threads ---------------------------------------------------------------------------

    def _cancels_key(self, s: QueueSession) -> str:
        return s.keys.key("cancels", worker_id=self._worker_id)

    def _nudge(self, i: int) -> None:
        if self._client is None:
            return
        # On an error the thread's own call ends at its time-out anyway.
        with contextlib.suppress(redis.RedisError):
            self._client.lpush(self._cancels_key(self._groups[i][0]), NUDGE)

    def _wake_keys(self, s: QueueSession, client: SyncClient) -> list[str] | None:
        """The wake lists of the pools the worker serves in ``s`` (its registration's scope);
        None while it is not registered there yet."""
        raw = client.hget(s.keys.key("scope"), self._worker_id)
        if not raw:
            return None
        _, home, steal = str(raw).split("|")
        keys = [s.keys.key("wakep", pool=p) for p in home.split(",") if p and p != "_"]
        if steal == "*":
            keys.append(s.keys.key("wake"))
        else:
            keys += [s.keys.key("wakep", pool=p) for p in steal.split(",") if p and p != "_"]
        return keys

    def _serve(self, i: int) -> None:
        group = self._groups[i]
        client = self._client
        assert client is not None
        cancels = {self._cancels_key(s) for s in group}
        wake_keys: list[str] = []
        read_at = 0.0
        backoff = 0.05
        while not self._stopping.is_set():
            try:
                if time.monotonic() >= read_at:
                    found = [self._wake_keys(s, client) for s in group]
                    registered = all(keys is not None for keys in found)
                    wake_keys = [k for keys in found for k in keys or []]
                    self._keys[i] = wake_keys if registered else []
                    # Not registered yet (the worker registers on its first pop): soon again.
                    read_at = time.monotonic() + (SCOPE_REFRESH if registered else 0.05)
                wants = self._wants_work()
                keys = sorted(cancels) + (wake_keys if wants else [])
                self._listening[i] = wants
                got = client.blpop(keys, timeout=self._block)
                self._listening[i] = False
                backoff = 0.05
            except redis.RedisError as exc:
                self._listening[i] = False
                log.debug("worker %s waker: %s", self._worker_id, exc)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            if not got:
                continue
            key, value = str(got[0]), str(got[1])
            if key in cancels:
                if value != NUDGE:
                    self._on_cancel(value)
            elif self._wants_work() and self._claim():
                self._on_wake()
            else:  # filled meanwhile: the token is for another idle worker
                with contextlib.suppress(redis.RedisError):
                    client.rpush(key, value)
