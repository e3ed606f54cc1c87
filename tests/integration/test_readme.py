"""The README's examples, run exactly as printed: a broken example fails the build.

Every ```python block runs, in order, in one fresh interpreter (later blocks use names the
earlier ones define, as a reader's session would); a block that starts with ``# path.py`` is
that file instead. The "Producer and worker" pair then runs as printed: the producer, and the
first ``fairque worker`` command from the README's text as a real process.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from fairque import FairQueueConfig, TaskQueue
from fairque.queue.ops import CommandCall, Op
from tests.support.processes import ROOT
from tests.support.waiting import wait_for

README = (ROOT / "README.md").read_text("utf-8")
BLOCK = re.compile(r"```(python|bash)\n(.*?)```", re.DOTALL)
BLOCK_ANY = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
FILE_HEADER = re.compile(r"#\s*([\w/]+\.py)\n")


def blocks(lang: str) -> list[str]:
    return [body for kind, body in BLOCK.findall(README) if kind == lang]


def lay_out(directory: Path) -> list[str]:
    """Write the file blocks under ``directory``; return the other python blocks."""
    scripts = []
    for body in blocks("python"):
        header = FILE_HEADER.match(body)
        if header:
            path = directory / header.group(1)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
        else:
            scripts.append(body)
    return scripts


def env_for(server_url: str, queue_name: str, directory: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FAIRQUE_REDIS_URL": server_url,
        "FAIRQUE_QUEUE": queue_name,
        "PYTHONPATH": f"{directory}{os.pathsep}{ROOT}",
    }


def test_every_python_example_runs_as_printed(server_url, queue_name, tmp_path):
    scripts = lay_out(tmp_path)
    assert len(scripts) >= 3  # producer, schedules, monitoring
    program = "\n\n".join(scripts)
    done = subprocess.run(
        [sys.executable, "-c", program],
        check=False,
        cwd=tmp_path,
        env=env_for(server_url, queue_name, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_producer_and_worker_example_runs_acmes_task_within_a_second(
    server_url, queue_name, tmp_path
):
    scripts = lay_out(tmp_path)
    producer = next(s for s in scripts if "resize.push(" in s)
    command = next(
        line.split("#")[0].strip()
        for body in blocks("bash")
        for line in body.splitlines()
        if line.startswith("fairque worker ")
    )
    env = env_for(server_url, queue_name, tmp_path)
    pushed = subprocess.run(
        [sys.executable, "-c", producer],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.strip() == "ready"
    argv = [sys.executable, "-m", "fairque.cli", *shlex.split(command)[1:]]
    worker = subprocess.Popen(argv, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    config = FairQueueConfig(redis={"url": server_url}, queue={"name": queue_name})
    try:
        with TaskQueue(config) as q:
            registered = wait_for(lambda: q.run(_first_beat(q)), timeout=60)
            info = wait_for(lambda: (i := q.get_task("resize-7")) and i.finished_at and i, 30)
        assert info.result == {"resized": 7, "width": 256}
        assert (info.finished_at.timestamp() * 1000) - registered <= 1000
    finally:
        worker.terminate()
        worker.wait(20)


def _first_beat(q: TaskQueue) -> Op[int | None]:
    """The worker's first beat (server ms), once a worker has beaten."""
    keys = q.session.keys
    workers = yield CommandCall(("ZRANGE", keys.key("workers"), 0, 0))
    if not workers:
        return None
    first = yield CommandCall(("HGET", keys.key("worker", worker_id=workers[0]), "first_beat"))
    return int(first) if first else None


def test_the_configuration_reference_loads_as_printed(tmp_path):
    reference = next(
        b for kind, b in BLOCK_ANY.findall(README) if kind == "toml" and "[alerts]" in b
    )
    path = tmp_path / "fairque.toml"
    path.write_text(reference)
    config = FairQueueConfig.load(path)
    assert config.queue.users["acme"].weight == 3 and config.queue.dlq_max == 100000
    assert config.workers[0].steal_targets == "*"


def test_the_fastapi_example_serves_results_as_printed(server_url, queue_name, tmp_path):
    """webapp.py under uvicorn, as a process, called with httpx: 202 and an id for a push, 200
    and the result once done, 202 without a wait and 504 with one while the tenant's work is
    held (the tenant paused), 404 for an unknown id."""
    import httpx

    from fairque.server import free_port

    lay_out(tmp_path)
    port = free_port()
    env = env_for(server_url, queue_name, tmp_path)
    app = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "webapp:app", "--port", str(port), "--log-level",
         "warning"],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    config = FairQueueConfig(redis={"url": server_url}, queue={"name": queue_name})
    try:
        with httpx.Client(base_url=base, timeout=30) as http, TaskQueue(config) as q:
            wait_for(lambda: _answers(http), timeout=60)
            made = http.post("/resize", json={"id": 7}, headers={"X-Tenant": "acme"})
            assert made.status_code == 202, made.text
            task_id = made.json()["task_id"]
            done = http.get(f"/resize/{task_id}", params={"wait": 10})
            assert done.status_code == 200 and done.json() == {"resized": 7, "width": 256}
            assert (
                http.post("/resize", json={"id": "x"}, headers={"X-Tenant": "a"}).status_code == 422
            )
            assert http.get("/resize/no-such-task").status_code == 404
            from fairque.monitoring import Admin

            with Admin(config) as admin:
                admin.pause("slowco")  # its tasks wait: the app's worker never takes them
            held = http.post("/resize", json={"id": 8}, headers={"X-Tenant": "slowco"}).json()
            assert http.get(f"/resize/{held['task_id']}").status_code == 202
            assert http.get(f"/resize/{held['task_id']}", params={"wait": 0.3}).status_code == 504
            with Admin(config) as admin:
                admin.resume("slowco")
            late = http.get(f"/resize/{held['task_id']}", params={"wait": 10})
            assert late.status_code == 200 and late.json()["resized"] == 8
            assert q.get_task(held["task_id"]).state == "completed"
    finally:
        app.terminate()
        app.wait(20)


def _answers(http) -> bool:  # type: ignore[no-untyped-def]
    try:
        return http.get("/resize/probe").status_code == 404
    except Exception:
        return False
