"""The CLI as a new user runs it: real processes, one after another."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import redis

from fairque.server import free_port
from tests.support.ledger import events
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


def fq(
    url: str, queue: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fairque.cli", "--redis-url", url, "--queue", queue, *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=60, check=False,
    )  # fmt: skip


def test_failing_run_then_dlq_requeue_all_yes_then_a_worker_completes_them(
    server_url, queue_name, tmp_path
):
    broken = tmp_path / "downstream-is-down"
    broken.touch()
    env = {
        "PYTHONPATH": str(ROOT),
        "FAIRQUE_TEST_BROKEN": str(broken),
        "FAIRQUE_TEST_LEDGER": str(tmp_path / "ledger"),
        "FAIRQUE_QUEUE__MAX_ATTEMPTS": "1",
    }
    for i in range(10):
        r = fq(
            server_url,
            queue_name,
            "push",
            "--user",
            f"u{i % 3}",
            "--payload",
            f'{{"n": {i}}}',
            env=env,
        )
        assert r.returncode == 0, r.stderr
    worker_cmd = [
        *(sys.executable, "-m", "fairque.cli", "--redis-url", server_url, "--queue", queue_name),
        *("worker", "--handler", "tests.support.handlers:flaky_until_fixed"),
    ]
    w = subprocess.Popen(
        worker_cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: dead(server_url, queue_name) == 10)
    finally:
        w.send_signal(signal.SIGTERM)
        assert w.wait(10) == 0
    listing = fq(server_url, queue_name, "dlq", "ls", "--group-by", "error")
    assert "downstream is down" in listing.stdout and "10" in listing.stdout
    broken.unlink()  # the downstream is back
    r = fq(server_url, queue_name, "dlq", "requeue", "--all")
    assert r.returncode == 3 and "--yes" in r.stderr  # a script must say --yes
    r = fq(server_url, queue_name, "dlq", "requeue", "--all", "--yes")
    assert r.returncode == 0 and "requeued: 10 of 10" in r.stdout
    w = subprocess.Popen(
        worker_cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: len(events(tmp_path / "ledger", "done")) == 10)
    finally:
        w.send_signal(signal.SIGTERM)
        assert w.wait(10) == 0


def test_unreachable_server_one_line_for_every_read_command(queue_name):
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    for args in (
        ["info"],
        ["users"],
        ["alerts"],
        ["dlq", "ls"],
        ["task", "show", "x"],
        ["push", "--user", "u"],
    ):
        r = fq(url, queue_name, *args, env={"FAIRQUE_REDIS__SOCKET_CONNECT_TIMEOUT": "0.5"})
        assert r.returncode == 1, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "cannot reach the server" in lines[0], (args, r.stderr)
        assert "s3cret" not in r.stderr


def test_fairque_server_runs_in_the_foreground_and_stops_on_sigterm(tmp_path):
    port = free_port()
    p = subprocess.Popen(
        [sys.executable, "-m", "fairque.cli", "server", "--port", str(port), "--dir", tmp_path],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        client = redis.Redis(port=port, socket_connect_timeout=0.5)
        wait_for(lambda: _ping(client))
        client.set("k", "v")
    finally:
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=20)
    assert p.returncode == 0 and "server stopped" in out
    assert (tmp_path / "appendonlydir").exists()  # AOF on


def test_fairque_server_on_a_taken_port_says_so_in_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run(
            [sys.executable, "-m", "fairque.cli", "server", "--port", str(port), "--dir", tmp_path],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert r.returncode == 1
    assert r.stderr.strip() == (
        f"Error: port {port} is taken (another server listens there?): choose one with --port"
    )


def dead(url: str, queue: str) -> int:
    doc = json.loads(fq(url, queue, "--json", "info").stdout)
    return int(doc["overview"]["totals"]["dead"])


def _ping(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def test_every_operations_command_runs_as_a_real_process(server_url, queue_name, tmp_path):
    """Each command once in its own process (the CliRunner tests check them in depth)."""
    ok = lambda *args: fq(server_url, queue_name, *args)  # noqa: E731
    steps = [
        ("--json", "push", "--user", "acme", "--payload", '{"k": 1}', "--task-id", "p1"),
        (
            "--json",
            "push",
            "--user",
            "acme",
            "--payload",
            "2",
            "--task-id",
            "p2",
            "--max-attempts",
            "1",
        ),
        ("--json", "info"),
        ("--json", "users", "--sort", "name"),
        ("--json", "user", "show", "acme"),
        ("--json", "task", "show", "p1"),
        ("--json", "explain", "p1"),
        ("--json", "alerts"),
        ("--json", "dlq", "ls", "--group-by", "user"),
        ("--json", "dlq", "requeue", "--all", "--dry-run"),
        ("--json", "dlq", "purge", "--all", "--dry-run"),
        ("--json", "pause", "--user", "acme"),
        ("--json", "resume", "--user", "acme"),
        (
            "--json",
            "drain",
            "--user",
            "acme",
            "--priority",
            "3",
            "--export",
            str(tmp_path / "x.jsonl"),
            "--yes",
        ),
        ("--json", "schedule", "add", "hourly", "0 * * * *", "--user", "acme"),
        ("--json", "schedule", "ls"),
        ("schedule", "disable", "hourly"),
        ("schedule", "enable", "hourly"),
        ("schedule", "rm", "hourly"),
        ("metrics", "dump"),
        ("--json", "bench", "--scenario", "weights", "--tasks", "300"),
    ]
    for args in steps:
        r = ok(*args)
        assert r.returncode == 0, (args, r.stderr)
        if args[0] == "--json":
            json.loads(r.stdout)
    assert len((tmp_path / "x.jsonl").read_text().splitlines()) == 2
    r = fq(server_url, queue_name, "--json", "demo", "--headless", "--duration", "1")
    assert r.returncode == 0 and json.loads(r.stdout)["served"] > 0
