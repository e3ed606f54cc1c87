"""docs/frameworks.md's FastAPI metrics route, run as printed: behind the app's auth, it
serves fairque's metrics of the configured queue."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from fairque import Task, TaskQueue
from tests.support.processes import ROOT


def test_the_metrics_route_answers_behind_the_apps_auth(server_url, queue_name, monkeypatch):
    page = (ROOT / "docs" / "frameworks.md").read_text("utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", page, re.DOTALL) if "/metrics" in b)
    monkeypatch.setenv("FAIRQUE_REDIS_URL", server_url)
    monkeypatch.setenv("FAIRQUE_QUEUE", queue_name)
    namespace: dict[str, object] = {}
    exec(compile(block, "docs/frameworks.md", "exec"), namespace)
    with TaskQueue() as q:
        q.push(Task.create("acme", task_id="t1"))
    client = TestClient(namespace["app"])  # type: ignore[arg-type]
    assert client.get("/metrics").status_code == 401
    scraped = client.get("/metrics", headers={"Authorization": "Bearer let-me-in"})
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    line = f'fairque_queue_tasks{{queue="{queue_name}",state="ready"}} 1.0'
    assert line in scraped.text
