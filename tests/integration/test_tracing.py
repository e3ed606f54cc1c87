"""OpenTelemetry: the producer's request, the push and the handler in one trace; and no
import of OpenTelemetry at all by an application that does not trace."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from fairque import Task, TaskQueue
from fairque.worker import Worker
from tests.support.processes import ROOT
from tests.support.waiting import wait_for


@pytest.fixture
def spans():
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.util._once import Once

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield exporter
    provider.shutdown()
    # Back to "no tracing configured" for the tests that follow (as OpenTelemetry's own test
    # helpers do): otherwise every later task would be traced into memory.
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


def test_the_request_the_push_and_the_handler_share_one_trace(spans, make_config):
    from opentelemetry import trace

    seen: list[int] = []

    def handler(task: Task) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    config = make_config(workers=[{"id": "traced", "steal_targets": "*"}])
    with TaskQueue(config) as q:
        with trace.get_tracer("app").start_as_current_span("POST /resize") as request:
            q.push(Task.create("acme", 3, {"id": 7}, task_id="traced-7"))
            trace_id = request.get_span_context().trace_id
        assert q.get_task("traced-7") is not None
        q.push(Task.create("acme", 3, {"id": 8}, task_id="untraced-8"))  # outside any span
    worker = Worker(config, handler, worker_id="traced")
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(seen) == 2, timeout=30)
    finally:
        worker.stop()
        thread.join(10)
    by_name = {}
    for s in spans.get_finished_spans():
        by_name.setdefault(s.name, []).append(s)
    name = config.queue.name
    [publish] = by_name[f"{name} publish"]
    processed = by_name[f"{name} process"]
    assert publish.context.trace_id == trace_id and publish.kind == trace.SpanKind.PRODUCER
    linked = [s for s in processed if s.context.trace_id == trace_id]
    assert len(linked) == 1 and linked[0].kind == trace.SpanKind.CONSUMER
    assert linked[0].parent.span_id == publish.context.span_id
    assert linked[0].attributes["fairque.user"] == "acme"
    assert linked[0].attributes["messaging.message.id"] == "traced-7"
    assert trace_id in seen  # the handler ran inside the consumer span
    other = [s for s in processed if s.context.trace_id != trace_id]
    assert len(other) == 1  # the untraced task gets a trace of its own


def test_without_opentelemetry_installed_everything_works(server_url, queue_name):
    program = f"""
import importlib.abc, sys, threading

class NotInstalled(importlib.abc.MetaPathFinder):  # as if the extra were not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "opentelemetry":
            raise ModuleNotFoundError(name)

sys.meta_path.insert(0, NotInstalled())
from fairque import FairQueueConfig, Task, TaskQueue
from fairque.worker import Worker
config = FairQueueConfig(redis={{"url": {server_url!r}}}, queue={{"name": {queue_name!r}}},
                         workers=[{{"id": "w", "steal_targets": "*"}}])
done = threading.Event()
with TaskQueue(config) as q:
    q.push(Task.create("acme", 3, 1, task_id="plain"))
w = Worker(config, lambda task: done.set(), worker_id="w")
t = threading.Thread(target=w.run, daemon=True); t.start()
assert done.wait(30)
w.stop(); t.join(10)
assert not [m for m in sys.modules if m.startswith("opentelemetry")]
"""
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
