"""The `fairque-tui` command: help, a bad configuration, and the screenshot a demo exports."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from fairque_tui.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_the_console_script_is_installed_and_lists_its_commands():
    exe = shutil.which("fairque-tui", path=str(Path(sys.executable).parent))
    assert exe is not None
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    assert "connect" in out and "demo" in out and "serve" in out


def test_serve_refuses_a_bad_configuration_before_listening():
    r = CliRunner().invoke(main, ["serve", "redis://localhost:1/0", "--queue", "a{b}"])
    assert r.exit_code == 1 and "queue.name" in r.output


def test_serve_is_local_and_read_only_unless_asked(monkeypatch):
    from fairque_tui import serve

    started = {}

    class FakeServer:  # textual-serve's Server, recorded instead of listening
        def __init__(self, command, host, port, title, public_url):  # type: ignore[no-untyped-def]
            started.update(command=command, host=host, port=port, public_url=public_url)

        def serve(self) -> None:
            pass

    monkeypatch.setattr("textual_serve.server.Server", FakeServer)
    monkeypatch.setenv("FAIRQUE_REDIS_URL", "")  # restored after: serve() exports it
    monkeypatch.delenv("FAIRQUE_REDIS_URL")
    r = CliRunner().invoke(main, ["serve", "redis://:secret@127.0.0.1:6390/0"])
    assert r.exit_code == 0, r.output
    assert started["host"] == "127.0.0.1" and started["port"] == 8765
    assert "--read-only" in started["command"] and "secret" not in started["command"]
    assert "warning" not in r.output and "secret" not in r.output
    r = CliRunner().invoke(main, ["serve", "redis://127.0.0.1:6390/0", "--host", "0.0.0.0",
                                  "--read-write"])  # fmt: skip
    assert "--read-only" not in started["command"]
    assert "warning: listening on 0.0.0.0" in r.output and "can requeue" in r.output
    assert started["public_url"].endswith(":8765") and "0.0.0.0" not in started["public_url"]
    assert serve.is_loopback("::1") and serve.is_loopback("localhost")
    assert not serve.is_loopback("10.0.0.5") and not serve.is_loopback("example.com")


def test_a_bad_configuration_is_one_line_and_exit_1():
    r = CliRunner().invoke(main, ["connect", "redis://localhost:1/0", "--queue", "a{b}"])
    assert r.exit_code == 1
    assert "queue.name" in r.output and "Traceback" not in r.output


def test_the_demo_exports_an_svg_screenshot_of_itself(tmp_path):
    target = tmp_path / "shot.svg"
    r = subprocess.run(
        [sys.executable, "-m", "fairque_tui.cli", "demo", "--screenshot", str(target),
         "--after", "3", "--size", "100x30"],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    svg = target.read_text()
    assert svg.startswith("<svg") and "noisy" in svg and "tenant-01" in svg
