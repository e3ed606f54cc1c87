"""OpenTelemetry, when the application uses it: one trace from the request that pushes a task,
through the queue, into the handler that runs it (``pip install fairque[otel]``).

fairque never imports OpenTelemetry by itself: an application that traces has imported it
and configured a tracer provider before it pushes or runs tasks, and only then do these
functions do anything. An application that does not trace pays nothing, not even an import.

- A push inside an active span opens a PRODUCER span ("<queue> publish") and records its
  context in each task (``Task.trace``: a W3C trace-context carrier, at most 512 bytes).
- A worker runs each handler in a CONSUMER span ("<queue> process") whose parent is that
  context, with the messaging attributes and fairque's user, handler and attempt.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fairque.core.models import Task

MAX_CARRIER = 512  # bytes of JSON; a larger carrier is dropped, never stored
SYSTEM = "fairque"


def _otel() -> Any:
    """The OpenTelemetry API if the application imported it and configured a tracer
    provider, else None (then nothing is traced, at no cost)."""
    if "opentelemetry.trace" not in sys.modules:
        return None
    import opentelemetry.propagate
    import opentelemetry.trace

    provider = opentelemetry.trace.get_tracer_provider()
    if isinstance(provider, opentelemetry.trace.ProxyTracerProvider):
        return None  # imported (perhaps by a library), but no SDK configured
    return opentelemetry


def push_carrier(queue: str, count: int) -> str:
    """The trace context to store with pushed tasks (JSON), or '' outside a trace."""
    # Outside a span nothing is recorded: that check first, as it is the cheaper one (the
    # tracer provider's lookup reads the environment), on every push.
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None or not trace.get_current_span().get_span_context().is_valid:
        return ""
    otel = _otel()
    if otel is None:
        return ""
    tracer = otel.trace.get_tracer(SYSTEM)
    attributes = {
        "messaging.system": SYSTEM,
        "messaging.destination.name": queue,
        "messaging.operation.type": "send",
        "messaging.batch.message_count": count,
    }
    kind = otel.trace.SpanKind.PRODUCER
    with tracer.start_as_current_span(f"{queue} publish", kind=kind, attributes=attributes):
        carrier: dict[str, str] = {}
        otel.propagate.inject(carrier)
    text = json.dumps(carrier, separators=(",", ":"))
    return text if len(text.encode()) <= MAX_CARRIER else ""


def parse_carrier(text: str | None) -> dict[str, str] | None:
    """A stored carrier back as a dict (None when absent or not a JSON object of strings)."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        return None
    return value


@contextmanager
def process_span(task: Task, queue: str) -> Iterator[None]:
    """Run a handler inside a CONSUMER span linked to the producer's trace (if tracing)."""
    otel = _otel()
    if otel is None:
        yield
        return
    parent = otel.propagate.extract(task.trace or {})
    lease = task.lease
    attributes = {
        "messaging.system": SYSTEM,
        "messaging.destination.name": queue,
        "messaging.operation.type": "process",
        "messaging.message.id": task.task_id,
        "fairque.user": task.user_id,
        "fairque.handler": task.handler or "",
        "fairque.attempt": lease.attempt if lease else task.attempts,
    }
    tracer = otel.trace.get_tracer(SYSTEM)
    kind = otel.trace.SpanKind.CONSUMER
    with tracer.start_as_current_span(
        f"{queue} process", context=parent, kind=kind, attributes=attributes
    ):
        yield
