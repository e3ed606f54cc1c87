"""``fairque worker``: run one worker process until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import sys
from typing import Any

import click

from fairque.cli.context import CliContext, pass_cli
from fairque.core.config import FairQueueConfig
from fairque.worker import AsyncWorker, Worker
from fairque.worker.observe import configure_logging


def load_handler(spec: str) -> Any:
    """Import ``MODULE:ATTR`` (given by the operator, never read from the server)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise click.BadParameter(
            "expected MODULE:ATTR, e.g. myapp.tasks:resize", param_hint="--handler"
        )
    sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise click.BadParameter(
            f"cannot import {module_name!r}: {exc}", param_hint="--handler"
        ) from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise click.BadParameter(
                f"{module_name!r} has no attribute {attr!r}", param_hint="--handler"
            ) from None
    return obj


def _users(value: str | None) -> list[str] | str | None:
    if value is None:
        return None
    if value.strip() == "*":
        return "*"
    return [u.strip() for u in value.split(",") if u.strip()]


def worker_config(
    config: FairQueueConfig,
    worker_id: str | None,
    overrides: dict[str, Any],
) -> tuple[FairQueueConfig, str]:
    """The config with this worker's entry added or updated by the command-line options."""
    config, entry = config.with_worker(worker_id, **overrides)
    return config, entry.id


@click.command()
@click.option("--handler", "handler_spec", required=True, metavar="MODULE:ATTR",
              help="A @task function or TaskHandler for tasks that name no handler; importing "
              "MODULE registers its @task functions.")  # fmt: skip
@click.option("--async", "use_async", is_flag=True, help="Run an AsyncWorker (asyncio).")
@click.option("--concurrency", type=click.IntRange(1, 10_000), help="Tasks at once.")
@click.option("--worker-id", help="This worker's id (a [[workers]] entry, or a new one).")
@click.option("--assigned", metavar="U,U", help="Users this worker serves first.")
@click.option("--steal", metavar="U,U|*", help="Users it may take from when its own are idle.")
@click.option(
    "--task-timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds per task."
)
@click.option("--grace", type=click.FloatRange(min=0), help="Seconds to finish tasks on stop.")
@click.option(
    "--health-port",
    type=click.IntRange(0, 65535),
    help="Serve /healthz, /readyz and /metrics on this port (0: any free one).",
)
@click.option("--health-host", help="Address of the probe server (default 127.0.0.1).")
@click.option("--log-format", type=click.Choice(["text", "json"]), help="Log lines or JSON.")
@click.option(
    "--log-tasks",
    is_flag=True,
    default=None,
    help="A log line per completed task too (failures always log).",
)
@click.option(
    "--log-payloads",
    is_flag=True,
    default=None,
    help="Payloads in task log lines (they may hold personal data).",
)
@pass_cli
def worker(
    cli: CliContext,
    handler_spec: str,
    use_async: bool,
    concurrency: int | None,
    worker_id: str | None,
    assigned: str | None,
    steal: str | None,
    task_timeout: float | None,
    grace: float | None,
    health_port: int | None,
    health_host: str | None,
    log_format: str | None,
    log_tasks: bool | None,
    log_payloads: bool | None,
) -> None:
    """Run a worker until SIGTERM/SIGINT, then finish or hand back what it holds."""
    cli.refuse_if_read_only("worker")
    handler = load_handler(handler_spec)
    overrides: dict[str, Any] = {
        key: value
        for key, value in {
            "concurrency": concurrency,
            "assigned_users": _users(assigned),
            "steal_targets": _users(steal),
            "task_timeout": task_timeout,
            "shutdown_grace": grace,
            "health_port": health_port,
            "health_host": health_host,
            "log_format": log_format,
            "log_tasks": log_tasks,
            "log_payloads": log_payloads,
        }.items()
        if value is not None
    }
    config, wid = worker_config(cli.config(), worker_id, overrides)
    configure_logging(config.worker(wid).log_format)
    if use_async:
        aw = AsyncWorker(config, handler, worker_id=wid)

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, aw.stop)
            await aw.run()

        asyncio.run(main())
    else:
        w = Worker(config, handler, worker_id=wid)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: w.stop())
        w.run()
