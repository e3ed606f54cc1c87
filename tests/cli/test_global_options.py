"""Every global option works before and after every command (one definition, not repeated)."""

from __future__ import annotations

import click
import pytest

from fairque.cli.context import CliContext
from fairque.cli.global_options import GLOBAL_OPTIONS, completion_context
from fairque.cli.main import cli


def leaf_commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    ctx = click.Context(group)
    loaded = {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}
    for name, command in sorted(loaded.items()):
        if isinstance(command, click.Group):
            found += leaf_commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


COMMANDS = leaf_commands(cli)
GIVEN = ["--redis-url", "redis://example:7000/3", "--queue", "billing", "--config", "x.toml",
         "--json", "--read-only", "--cluster", "--wide"]  # fmt: skip
EXPECTED = CliContext("redis://example:7000/3", "billing", "x.toml", True, True, True, True)


def parsed(before: list[str], path: tuple[str, ...], after: list[str]) -> CliContext:
    """The CliContext the command would see, parsed as shell completion parses (no command
    runs; its required arguments may be missing)."""
    ctx = cli.make_context("fairque", [*before, *path, *after], resilient_parsing=True)
    for i, name in enumerate(path):
        command = ctx.command.commands[name]  # type: ignore[attr-defined]
        ctx = command.make_context(name, [*path[i + 1 :], *after], parent=ctx,
                                   resilient_parsing=True)  # fmt: skip
    return completion_context(ctx)


def test_every_command_is_covered():
    assert len(COMMANDS) > 25
    assert ("dlq", "ls") in COMMANDS and ("worker",) in COMMANDS and ("bench",) in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_global_options_before_and_after_the_command(path):
    assert parsed(GIVEN, path, []) == EXPECTED
    assert parsed([], path, GIVEN) == EXPECTED
    # Some before, the rest after; the later value of a repeated option wins.
    before = ["--queue", "other", "--config", "x.toml", "--json"]
    assert parsed(before, path, [*GIVEN[:4], *GIVEN[7:]]) == EXPECTED


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_lists_the_global_options_in_its_help(path):
    command: click.Command = cli
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    flags = {opt for p in command.params for opt in p.opts}
    assert {o.flag for o in GLOBAL_OPTIONS} <= flags
