"""The options every command shares, defined once and accepted before or after the command.

``fairque --json users`` and ``fairque users --json`` mean the same: people put output and
connection flags after the command (``gh pr list --json``, ``kubectl get pods -o json``). The
root group declares each option with its environment variable; every command and subcommand
gets a copy without one, whose value (when given) overrides the root's on the shared
:class:`~fairque.cli.context.CliContext`. The later flag wins: ``fairque --queue a users
--queue b`` reads queue ``b``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from fairque.cli.context import CliContext

# Where values given after a command are kept for shell completion, which parses the command
# line without running the root's callback (so there is no CliContext yet).
LATE_VALUES = "fairque.global_options"


@dataclass(frozen=True)
class GlobalOption:
    flag: str
    attr: str  # the CliContext field (and the root callback's parameter name)
    help: str
    envvar: str | None = None
    is_flag: bool = False
    path: bool = False

    def root_param(self) -> click.Option:
        env = f" (env {self.envvar})" if self.envvar else ""
        return click.Option(
            [self.flag, self.attr],
            envvar=self.envvar,
            is_flag=self.is_flag,
            type=click.Path(dir_okay=False) if self.path else None,
            help=self.help + env + ".",
        )

    def late_param(self) -> click.Option:
        return click.Option(
            [self.flag, self.attr],
            is_flag=self.is_flag,
            default=None,
            flag_value=True if self.is_flag else None,
            type=click.Path(dir_okay=False) if self.path else None,
            expose_value=False,
            callback=self._store,
            help=self.help + ".",
        )

    def _store(self, ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return value
        ctx.find_root().meta.setdefault(LATE_VALUES, {})[self.attr] = value
        obj = ctx.find_object(CliContext)
        if obj is not None:
            setattr(obj, self.attr, value)
        return value


GLOBAL_OPTIONS = (
    GlobalOption("--redis-url", "redis_url", "Server URL", envvar="FAIRQUE_REDIS_URL"),
    GlobalOption("--queue", "queue", "Queue name", envvar="FAIRQUE_QUEUE"),
    GlobalOption(
        "--config",
        "config_path",
        "Config file (default ./fairque.toml if present)",
        envvar="FAIRQUE_CONFIG",
        path=True,
    ),
    GlobalOption("--json", "json", "Print one JSON document on stdout", is_flag=True),
    GlobalOption(
        "--read-only", "read_only", "Refuse every command that changes something", is_flag=True
    ),
    GlobalOption(
        "--cluster",
        "cluster",
        "The server is a Redis/Valkey Cluster (env FAIRQUE_REDIS_CLUSTER=1)",
        is_flag=True,
    ),
    GlobalOption(
        "--wide", "wide", "Tables: every column, wider than the terminal if need be", is_flag=True
    ),
)


def root_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Declare the global options on the root group (values reach its callback by ``attr``)."""
    for option in reversed(GLOBAL_OPTIONS):
        params = getattr(f, "__click_params__", [])
        params.append(option.root_param())
        f.__click_params__ = params  # type: ignore[attr-defined]
    return f


def accept_after(command: click.Command) -> None:
    """Give ``command`` (and, for a group, every command under it) the late copies."""
    taken = {opt for p in command.params for opt in p.opts}
    for option in GLOBAL_OPTIONS:
        if option.flag not in taken:
            command.params.append(option.late_param())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            accept_after(sub)


def completion_context(ctx: click.Context) -> CliContext:
    """The CliContext a completion callback would have had: root values, then late ones."""
    root = ctx.find_root()
    values = {o.attr: root.params.get(o.attr) for o in GLOBAL_OPTIONS}
    values.update(root.meta.get(LATE_VALUES, {}))
    return CliContext(
        values["redis_url"], values["queue"], values["config_path"], bool(values["json"]),
        bool(values["read_only"]), bool(values["cluster"]), bool(values["wide"]),
    )  # fmt: skip
