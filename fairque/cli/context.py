"""The global options every command shares, and how they become a config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from fairque.core.config import FairQueueConfig


@dataclass
class CliContext:
    redis_url: str | None
    queue: str | None
    config_path: str | None
    json: bool
    read_only: bool = False
    cluster: bool = False
    wide: bool = False  # tables: every column, wider than the terminal if need be

    def refuse_if_read_only(self, action: str) -> None:
        """Exit code 3 for a mutation under ``--read-only``."""
        if self.read_only:
            from fairque.cli.refusals import SafetyRefusal

            raise SafetyRefusal(f"--read-only: {action} refused")

    def config(self) -> FairQueueConfig:
        """``fairque.toml``/``--config`` and env vars, with ``--redis-url``/``--queue`` on top."""
        overrides: dict[str, Any] = {}
        redis: dict[str, Any] = {}
        if self.redis_url is not None:
            redis["url"] = self.redis_url
        if self.cluster:
            redis["cluster"] = True
        if redis:
            overrides["redis"] = redis
        if self.queue is not None:  # an explicit empty name is an error, not the default
            overrides["queue"] = {"name": self.queue}
        from fairque.core.config import FairQueueConfig  # pydantic: only when a command runs

        return FairQueueConfig.load(self.config_path, **overrides)


pass_cli = click.make_pass_decorator(CliContext)
