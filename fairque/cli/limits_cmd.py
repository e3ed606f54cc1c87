"""``fairque user set|unset`` and ``fairque tenant set|unset``: rate-limit overrides at run
time, audited, ending by themselves with ``--for``."""

from __future__ import annotations

import click

from fairque.cli.context import CliContext, pass_cli
from fairque.cli.inspect_cmds import user
from fairque.cli.output import console, emit_json, parse_duration
from fairque.monitoring import Admin

RATE_HELP = "Most tasks dispatched: N/s, N/m or N/h (e.g. 20/s); 'none' lifts the limit."


def _set(cli: CliContext, name: str, rate: str, burst: int | None, lasting: str | None,
         tenant: bool) -> None:  # fmt: skip
    cli.refuse_if_read_only("set rate")
    seconds = parse_duration(lasting) if lasting else None
    limit = None if rate.strip().lower() == "none" else rate
    with Admin(cli.config()) as admin:
        result = admin.set_rate(name, limit, burst, seconds, tenant=tenant)
    if cli.json:
        emit_json(result)
        return
    who = f"tenant {name}" if tenant else name
    what = "no rate limit" if limit is None else f"at most {limit} (burst {result.detail['burst']})"
    until = f" for {lasting}" if lasting else " until `unset`"
    console.print(f"{who}: {what}{until}; audited")


def _unset(cli: CliContext, name: str, tenant: bool) -> None:
    cli.refuse_if_read_only("unset rate")
    with Admin(cli.config()) as admin:
        result = admin.unset_rate(name, tenant=tenant)
    if cli.json:
        emit_json(result)
        return
    who = f"tenant {name}" if tenant else name
    done = "override removed: the configured limit is back" if result.touched else "no override"
    console.print(f"{who}: {done}")


def add_limit_commands(group: click.Group, kind: str) -> None:
    """``set`` and ``unset`` for a user or a tenant (``kind``) under ``group``."""
    tenant = kind == "tenant"

    @group.command("set", help=f"Override a {kind}'s rate limit (audited); with --for it ends "
                   "by itself.")  # fmt: skip
    @click.argument("name", metavar=f"{kind.upper()}_ID")
    @click.option("--rate", required=True, help=RATE_HELP)
    @click.option("--burst", type=click.IntRange(min=1), help="Tokens it may spend at once.")
    @click.option("--for", "lasting", help="How long the override lasts (45s, 30m, 12h).")
    @pass_cli
    def set_limit(
        cli: CliContext, name: str, rate: str, burst: int | None, lasting: str | None
    ) -> None:
        _set(cli, name, rate, burst, lasting, tenant=tenant)

    @group.command("unset", help=f"End a {kind}'s rate-limit override.")
    @click.argument("name", metavar=f"{kind.upper()}_ID")
    @pass_cli
    def unset_limit(cli: CliContext, name: str) -> None:
        _unset(cli, name, tenant=tenant)


@click.group()
def tenant() -> None:
    """A tenant's rate limit (all its users together)."""


add_limit_commands(user, "user")
add_limit_commands(tenant, "tenant")
