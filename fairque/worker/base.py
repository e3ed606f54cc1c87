"""``WorkerBase``: what the thread worker and the asyncio worker are built from."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fairque.core.config import FairQueueConfig
from fairque.worker.core import WorkerCore
from fairque.worker.handlers import HandlerRegistry
from fairque.worker.runs import WorkerHealth

log = logging.getLogger("fairque.worker")


class WorkerBase:
    """What both workers are built from: the config, the handler(s), the shared core and a
    queue of the worker's kind (``queue_class``).

    Args:
        config: the settings (``FairQueueConfig.load()`` when omitted).
        handler: the handler for tasks that name none: a ``TaskHandler``/``AsyncTaskHandler``
            or a plain function of the task.
        worker_id: the worker's id: a ``[[workers]]`` entry's (its users, steal targets,
            concurrency, timeouts), or a new one. Without it, the config's only entry, or a
            new ``<host>-<pid>`` worker when the config has none. A new worker serves every
            user, as ``fairque worker`` does.
        handlers: the registry tasks' ``handler`` names are looked up in (the ``@task``
            registry by default); an unknown name sends the task to the DLQ.
        settings: the worker's settings without a config entry, over the entry's:
            ``concurrency=8``, ``assigned_users=[...]``, ``steal_targets="*"``,
            ``task_timeout=30``, ``cancel_grace``, ``poll_interval``... (``WorkerConfig``).

    Raises:
        ConfigError: invalid settings (the message names the field), or no ``worker_id``
            while the config has several ``[[workers]]`` entries.
    """

    kind = "sync"
    queue_class: Any = None

    def __init__(
        self,
        config: FairQueueConfig | None = None,
        handler: Any = None,
        *,
        worker_id: str | None = None,
        handlers: HandlerRegistry | None = None,
        **settings: Any,
    ) -> None:
        base = config if config is not None else FairQueueConfig.load()
        self.config, entry = base.with_worker(worker_id, **settings)
        self.core = WorkerCore.build(self.config, handler, entry.id, handlers, self.kind)
        self.queue = self.queue_class(self.config, worker_id=self.core.worker_id)
        self._setup()

    def _setup(self) -> None:
        """Each worker's own state (its queues of jobs and results)."""

    probe_port: int | None = None  # where /healthz, /readyz and /metrics answer (if served)

    @contextmanager
    def probes(self) -> Iterator[None]:
        """Serve the probes for as long as the worker runs (when ``health_port`` is set)."""
        s = self.core.settings
        if s.health_port is None:
            yield
            return
        from fairque.worker.probes import ProbeServer  # http.server and Prometheus: only here

        assert self.core.observer is not None and self.core.observer.registry is not None
        server = ProbeServer(self.health, self.core.observer.registry, s.health_host, s.health_port)
        self.probe_port = server.port
        log.info("worker %s: probes on http://%s:%d", self.worker_id, s.health_host, server.port)
        try:
            yield
        finally:
            server.close()

    @property
    def worker_id(self) -> str:
        return self.core.worker_id

    def health(self) -> WorkerHealth:
        return self.core.health()
