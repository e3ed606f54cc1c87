"""``fairque``: the command-line entry point.

Commands load when they run: ``fairque --help``, ``fairque users --help`` and shell completion
of command names import nothing but click and the root's own options, so they answer at once
(each command module pulls in pydantic, redis-py, rich and the queue only when used).
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

import click
from click.shell_completion import CompletionItem

from fairque.cli.context import CliContext
from fairque.cli.global_options import accept_after, root_options
from fairque.core.exceptions import FairQueueError
from fairque.version import __version__

# command -> (module, attribute, the first paragraph of its help: what `--help` lists without
# importing it; a test keeps these equal to the commands' own help). One line a command:
# name, module:attribute (in fairque.cli), help; an indented line goes on with the help.
_COMMANDS = """
alerts     inspect_cmds:alerts      Alerts firing now (with --watch, as they come and go).
bench      bench_cmd:bench          Run benchmark scenarios (against --redis-url, or a fresh
                                    embedded Valkey).
config     config_cmd:config_group  The user settings in force and the routing derived from live
                                    workers.
demo       demo_cmd:demo            Embedded Valkey, producers for a dozen users (one noisy), and
                                    fair workers.
dlq        admin_cmds:dlq           The dead-letter queue.
drain      admin_cmds:drain         Cancel a user's ready tasks (optionally exporting them first).
explain    inspect_cmds:explain     Why a task is where it is and what runs before it.
health     health_cmd:health        Exit 0 if the worker's (or every worker's) heartbeat is at most
                                    --max-age old, else 1.
info       inspect_cmds:info        Server, queue totals by state, workers, active alerts.
metrics    metrics_cmd:metrics      Prometheus metrics.
pause      admin_cmds:pause         Take a user out of the round-robin (pushes are still accepted).
push       admin_cmds:push          Push one task.
resume     admin_cmds:resume        Put a paused user back into the round-robin.
schedule   schedule_cmd:schedule    Manage recurring tasks.
scheduler  schedule_cmd:scheduler   Run the cron scheduler.
server     server_cmd:server        Run the embedded Valkey (or a local cluster) in the foreground
                                    until Ctrl-C.
task       task_cmds:task           One task: show it, wait for it, cancel it, retry it now.
tenant     limits_cmd:tenant        A tenant's rate limit (all its users together).
user       limits_cmd:user          One user.
users      inspect_cmds:users       Per-user table: backlog, in flight, oldest age, waits, served
                                    and fair shares.
worker     worker_cmd:worker        Run a worker until SIGTERM/SIGINT, then finish or hand back what
                                    it holds.
"""


def _lazy_table(text: str) -> dict[str, tuple[str, str, str]]:
    rows: list[list[str]] = []
    for line in text.strip().splitlines():
        if line.startswith(" "):
            rows[-1][2] += " " + line.strip()
        else:
            rows.append(line.split(None, 2))
    return {name: (f"fairque.cli.{target.split(':')[0]}", target.split(":")[1], help_text)
            for name, target, help_text in rows}  # fmt: skip


LAZY = _lazy_table(_COMMANDS)


class FairqueGroup(click.Group):
    """The root: loads each command on first use, and turns fairque's typed errors into one
    line on stderr and an exit code (3 for a refusal, 1 otherwise; no traceback)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY:
            module, attr, _ = LAZY[cmd_name]
            self.add_command(getattr(import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        accept_after(cmd)  # the global options after any command, defined once
        super().add_command(cmd, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(name) for name in LAZY)
        rows = [(name, _short(LAZY[name][2], limit)) for name in sorted(LAZY)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        names = [n for n in sorted(LAZY) if n.startswith(incomplete)]
        items = [CompletionItem(n, help=_short(LAZY[n][2])) for n in names]
        return items + click.Command.shell_complete(self, ctx, incomplete)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FairQueueError as exc:
            refused = getattr(exc, "refusal", False)
            click.echo(f"{'refused' if refused else 'error'}: {_one_line(exc)}", err=True)
            sys.exit(getattr(exc, "exit_code", 3 if refused else 1))  # MissingExtra: 2


def _short(text: str, limit: int = 45) -> str:
    """A command's help as click shortens it for a listing (without importing the command)."""
    return click.Command(None, help=text).get_short_help_str(limit)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


@click.group(cls=FairqueGroup)
@click.version_option(__version__, prog_name="fairque")
@root_options
@click.pass_context
def cli(
    ctx: click.Context,
    redis_url: str | None,
    queue: str | None,
    config_path: str | None,
    json: bool,
    read_only: bool,
    cluster: bool,
    wide: bool,
) -> None:
    """fairque: a fair, multi-tenant task queue on Redis/Valkey.

    The global options (--redis-url, --queue, --config, --json, --read-only, --cluster) may
    come before or after the command: `fairque users --json` is `fairque --json users`.
    """
    ctx.obj = CliContext(redis_url, queue, config_path, json, read_only, cluster, wide)


def main() -> None:
    cli()
