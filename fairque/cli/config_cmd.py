"""``fairque config show|apply``: the user settings in force, who wrote them, who serves whom,
and the one audited way to change the settings."""

from __future__ import annotations

import click

from fairque.cli.context import CliContext, pass_cli
from fairque.cli.output import confirm, console, emit_json, show_table
from fairque.cli.tables import Col
from fairque.core.config import FairQueueConfig
from fairque.monitoring import Admin, Inspector
from fairque.monitoring.models import ConfigState


@click.group("config")
def config_group() -> None:
    """The user settings in force and the routing derived from live workers."""


def _print_state(state: ConfigState) -> None:
    s = state.settings
    if s is None:
        console.print(
            f"[bold]{state.queue}[/bold]: no user settings written yet: every user has "
            "weight 1 and no cap (the first worker whose configuration has settings, or "
            "`fairque config apply`, writes them)"
        )
    else:
        console.print(
            f"[bold]{state.queue}[/bold]: settings {s.fingerprint} written by "
            f"{state.written_by} ({state.written_how}) at {state.written_at:%Y-%m-%d %H:%M:%S}Z; "
            f"default weight {s.default_weight:g}, max payload {s.max_payload_bytes:,} bytes, "
            f"DLQ cap {s.dlq_max:,}, idle users forgotten after {s.idle_user_seconds:g} s, "
            f"fairness by {s.fairness}"
        )
        if s.tenants:
            rows_t = [(t, w) for t, w in sorted(s.tenants.items())]
            show_table(
                "Tenants (not listed: weight 1)",
                [Col("tenant", wrap=True, left=True), "weight"],
                rows_t,
            )
        if s.users:
            rows = [(u, v.weight, v.max_inflight) for u, v in sorted(s.users.items())]
            show_table(
                "Users", [Col("user", wrap=True, left=True), "weight", "max in flight"], rows
            )
    routes = [
        (
            r.worker_id,
            ",".join(r.assigned_users) or "-",
            r.steal_targets if isinstance(r.steal_targets, str) else ",".join(r.steal_targets),
            len(r.home_pools),
            r.expires_at,
        )
        for r in state.routes
    ]
    columns: list[Col | str] = [
        Col("worker", wrap=True, left=True),
        Col("assigned", wrap=True, left=True),
        Col("steals", wrap=True, left=True),
        Col("pools", rank=1),
        Col("until", rank=1),
    ]
    if routes:
        show_table("Routing (live registrations)", columns, routes)
    else:
        console.print(
            "routing: no worker is registered: every user is in the shared pool, served by "
            "'*' stealers and poppers without a worker id"
        )
    for c in state.conflicts:
        console.print(
            f"[yellow]config_conflict[/yellow]: worker {c.worker_id} runs other settings "
            f"({c.settings_fingerprint}): " + "; ".join(c.differences)
        )


@config_group.command("show")
@pass_cli
def show(cli: CliContext) -> None:
    """The settings in force (who wrote them, when), the routing, and every disagreement."""
    with Inspector(cli.config()) as ins:
        state = ins.config_state()
    if cli.json:
        emit_json(state)
    else:
        _print_state(state)


@config_group.command("apply")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show the differences; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_cli
def apply(cli: CliContext, file: str | None, dry_run: bool, yes: bool) -> None:
    """Make FILE's user settings (default fairque.toml or --config) the ones in force.

    Shows what changes first; audited. Workers keep running: the scripts read the settings
    at every pop. Workers whose files still differ are reported as config_conflict."""
    if not dry_run:
        cli.refuse_if_read_only("config apply")
    target = cli.config()  # where to apply: the queue and server of --config / env / flags
    source = FairQueueConfig.load(file) if file else target
    with Admin(target, read_only=cli.read_only) as admin:
        preview = admin.apply_settings(source, dry_run=True)
        changes = list(preview.detail["differences"])
        if not dry_run and changes:
            if not cli.json:
                console.print("\n".join(changes))
            confirm(f"apply these {len(changes)} change(s) to the settings in force?", yes)
            result = admin.apply_settings(source)
        else:
            result = preview
    if cli.json:
        emit_json(result)
    elif not changes:
        console.print("nothing to do: these settings are already in force")
    elif result.dry_run:
        console.print("\n".join(changes))
        console.print(f"dry run: {len(changes)} change(s); nothing was changed")
    else:
        fp = result.detail["settings_fingerprint"]
        console.print(f"applied: settings {fp} are in force ({len(changes)} change(s), audited)")
