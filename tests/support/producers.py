"""A producer thread for fault tests: pushes tasks one by one, each retried until the server
acknowledges it (pushes are idempotent by id, so a retry never makes a second task)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from fairque import FairQueueConfig, FairQueueError, Task, TaskQueue


class RetryingProducer(threading.Thread):
    """``make_task(i)`` for i = 0, 1, ...; ``acked`` and ``acked_at`` (monotonic) record each
    acknowledgement, ``attempted`` how many tasks it tried."""

    def __init__(
        self, config: FairQueueConfig, make_task: Callable[[int], Task], pause: float = 0.002
    ) -> None:
        super().__init__(daemon=True)
        self.config, self.make_task, self.pause = config, make_task, pause
        self.acked: list[str] = []
        self.acked_at: list[float] = []
        self.attempted = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        with TaskQueue(self.config) as q:
            i = 0
            while not self.stopping.is_set():
                task = self.make_task(i)
                self.attempted = i + 1
                while not self.stopping.is_set():
                    try:
                        q.push(task)
                        self.acked.append(task.task_id)
                        self.acked_at.append(time.monotonic())
                        break
                    except FairQueueError:
                        time.sleep(0.05)
                i += 1
                time.sleep(self.pause)
