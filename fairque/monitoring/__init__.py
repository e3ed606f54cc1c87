"""Monitoring: the Inspector (read-only snapshots), Admin (mutations), alerts and metrics.
The CLI and the TUI are built on this and never talk to Redis directly."""

from fairque.monitoring.admin import Admin, ReadOnlyError
from fairque.monitoring.inspector import Inspector

__all__ = ["Admin", "Inspector", "ReadOnlyError"]
