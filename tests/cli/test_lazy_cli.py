"""The command line loads each command when it runs: the root lists them from LAZY, whose help
must stay the commands' own, and `fairque --help` must not import the heavy parts."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from fairque.cli.main import LAZY, _short, cli


@pytest.mark.parametrize("name", sorted(LAZY))
def test_the_listed_help_is_the_commands_own(name):
    command = cli.get_command(click.Context(cli), name)
    assert command is not None and command.name in (name, LAZY[name][1], "config")
    for limit in (30, 45, 60, 80, 120):
        assert _short(LAZY[name][2], limit) == command.get_short_help_str(limit), limit


def test_every_command_is_listed():
    ctx = click.Context(cli)
    assert set(cli.list_commands(ctx)) == set(LAZY)


def test_help_and_completion_import_nothing_heavy():
    probe = (
        "import sys\n"
        "from fairque.cli.main import cli\n"
        "try:\n"
        "    cli(['--help'], prog_name='fairque')\n"
        "except SystemExit:\n"
        "    pass\n"
        "names = ('pydantic', 'redis', 'rich', 'fairque.queue', 'fairque.core.config')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert "Commands:" in out and "users" in out
    assert "HEAVY []" in out, out.splitlines()[-1]
    env_probe = probe.replace("cli(['--help'], prog_name='fairque')", "cli(prog_name='fairque')")
    completion = subprocess.run(
        [sys.executable, "-c", env_probe],
        capture_output=True,
        text=True,
        check=True,
        env={
            "_FAIRQUE_COMPLETE": "bash_complete",
            "COMP_WORDS": "fairque us",
            "COMP_CWORD": "1",
            "PATH": "/usr/bin:/bin",
        },
    ).stdout
    assert "users" in completion and "user" in completion
    assert "HEAVY []" in completion, completion.splitlines()[-1]
