"""``Pacing``: when a worker pops again and how long it waits in between: at once while work
comes, a growing poll while idle, and, for an idle worker, a long poll (the pop waits on the
server for a push) or its waker thread listening for one. Shared by both workers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fairque.queue import ops

if TYPE_CHECKING:
    from fairque.queue.partitions import Partitions
    from fairque.worker.waker import Waker

MIN_POLL = 0.001


@dataclass
class Pacing:
    """The poll clock of one worker (``poll_interval``: its longest idle wait)."""

    poll_interval: float
    idle_polls: int = 0  # pops in a row that found nothing
    asked: int = 0  # what the last exchange asked to lease
    woken: bool = False  # the waker took a push's token (cleared by the next exchange)
    long_polling: bool = False  # a pop waits on the server for a push now
    waited: bool = False  # the last exchange was a long poll
    # The waker's thread and the worker's loop decide under it: a token the waker takes is
    # either seen by the next exchange (it pops at once) or handed back to a long poll.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start_exchange(self, wait: ops.LongPoll | None) -> ops.LongPoll | None:
        """An exchange begins: the long poll it may make (none when the waker took a token
        meanwhile: the task waits, pop it now)."""
        with self.lock:
            if self.woken:
                wait = None
            self.woken = False
            self.long_polling = wait is not None
        self.waited = wait is not None
        return wait

    def end_exchange(self) -> None:
        with self.lock:
            self.long_polling = False

    def claim_wake(self) -> bool:
        """The waker took a wake token: True when the worker will pop for it (it wakes the
        loop then); False while a long poll waits, which the token is handed back to."""
        with self.lock:
            if self.long_polling:
                return False
            self.woken = True
            return True

    def poll_delay(self, got_work: bool) -> float:
        """How long to wait before the next pop: none while busy, growing while idle."""
        if got_work:
            self.idle_polls = 0
            return 0.0
        self.idle_polls += 1
        backoff: float = MIN_POLL * 2 ** min(self.idle_polls, 16)
        return min(backoff, self.poll_interval)

    def long_poll(
        self, parts: Partitions, waker: Waker | None, busy: bool, cluster: bool
    ) -> ops.LongPoll | None:
        """An idle worker's next pop waits on the server for a push (``ops.ack_and_pop``):
        when its last pop found nothing and it runs nothing (``busy``), on an unpartitioned
        queue on one server (elsewhere its waker thread wakes it)."""
        if (
            waker is None
            or self.woken  # its waker took a push's token: pop now, do not wait for another
            or self.idle_polls == 0
            or busy
            or parts.count != 1
            or cluster
        ):
            return None
        keys = waker.wake_keys()
        return (keys, self.poll_interval) if keys else None

    def pause_after(self, got: int, free: int, listen: bool, waker: Waker | None) -> float:
        """How long to wait for finished runs (or a wake-up) after a pop that leased ``got``
        and left ``free`` slots: none after a long poll (it was the wait) or while work
        comes; up to the poll interval while idle or full. With ``listen`` (it will not
        long-poll next) an idle worker's waker listens for the next push meanwhile."""
        # A pop that left slots free drained what this worker may take: wait (a finished run
        # or a push cuts the wait short) rather than pop again at once.
        delay = self.poll_delay(got > 0 and got >= self.asked)
        if self.waited and not got:
            return 0.0
        if not got and free and waker is not None and listen:
            waker.listen()
        if not free or delay:
            return delay or self.poll_interval
        return 0.0
