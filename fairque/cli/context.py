"""The global options every command shares, and how they become a config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from fairque.core.config import FairQueueConfig


@dataclass
class CliContext:
    redis_url: str | None
    queue: str | None
    config_path: str | None
    json: bool
    read_only: bool = False

    def refuse_if_read_only(self, action: str) -> None:
        """Exit code 3 for a mutation under ``--read-only``."""
        if self.read_only:
            from fairque.cli.output import SafetyRefusal

            raise SafetyRefusal(f"--read-only: {action} refused")

    def config(self) -> FairQueueConfig:
        """``fairque.toml``/``--config`` and env vars, with ``--redis-url``/``--queue`` on top."""
        overrides: dict[str, Any] = {}
        if self.redis_url:
            overrides["redis"] = {"url": self.redis_url}
        if self.queue:
            overrides["queue"] = {"name": self.queue}
        return FairQueueConfig.load(self.config_path, **overrides)


pass_cli = click.make_pass_decorator(CliContext)
