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
    assert "connect" in out and "demo" in out


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
