"""Monitoring: the Inspector (read-only snapshots), Admin (changes), alerts and metrics, each
with an asyncio twin. The CLI and the TUI are built on this and never talk to Redis directly."""

from fairque.monitoring.admin import Admin
from fairque.monitoring.admin_ops import ReadOnlyError
from fairque.monitoring.async_admin import AsyncAdmin
from fairque.monitoring.async_inspector import AsyncInspector
from fairque.monitoring.inspector import Inspector

__all__ = ["Admin", "AsyncAdmin", "AsyncInspector", "Inspector", "ReadOnlyError"]
