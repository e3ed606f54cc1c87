"""The worker's probe server: ``/healthz`` (liveness), ``/readyz`` (readiness) and ``/metrics``
(the worker's own run metrics), on a small HTTP server in a daemon thread.

``/healthz`` answers 200 while the worker's loop keeps ticking; ``/readyz`` answers 200 while
it is running, connected to the server and not stopping; both return the worker's
``health()`` as JSON (503 when the answer is no). Bound to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

if TYPE_CHECKING:
    from fairque.worker.runs import WorkerHealth


class ProbeServer:
    """Serves one worker's probes until :meth:`close`."""

    def __init__(
        self,
        health: Callable[[], WorkerHealth],
        registry: CollectorRegistry,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        probes = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body, kind = probes.answer(self.path.split("?", 1)[0])
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # probes every few seconds would drown the worker's own log

        self._health = health
        self._registry = registry
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="fairque-probes", daemon=True
        )
        self._thread.start()

    def answer(self, path: str) -> tuple[int, bytes, str]:
        if path == "/metrics":
            return 200, generate_latest(self._registry), CONTENT_TYPE_LATEST
        if path in ("/healthz", "/readyz"):
            h = self._health()
            ok = h.alive if path == "/healthz" else h.ready
            return (200 if ok else 503), h.model_dump_json().encode(), "application/json"
        body = json.dumps({"error": "not found", "paths": ["/healthz", "/readyz", "/metrics"]})
        return 404, body.encode(), "application/json"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
