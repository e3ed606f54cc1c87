"""A Worker or AsyncWorker running in a background thread, for tests."""

from __future__ import annotations

import asyncio
import threading

from fairque.worker import AsyncWorker, Worker


class Harness:
    """Runs a worker of the chosen kind in a background thread."""

    def __init__(self, worker_kind: str, config, handler=None, handlers=None) -> None:
        cls = Worker if worker_kind == "sync" else AsyncWorker
        self.worker = cls(config, handler, handlers=handlers)
        self.kind = worker_kind
        runner = (
            self.worker.run if worker_kind == "sync" else lambda: asyncio.run(self.worker.run())
        )
        self.thread = threading.Thread(target=runner, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(15)
        assert not self.thread.is_alive()
