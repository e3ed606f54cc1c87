"""The command line's own refusals (exit codes 3 and 1)."""

from __future__ import annotations

from fairque.core.exceptions import FairQueueError


class SafetyRefusal(FairQueueError):
    """Refused for safety (exit code 3): read-only mode, or no --yes without a terminal."""

    refusal = True  # the command line exits with 3


class Aborted(FairQueueError):
    """The operator answered no (exit code 1)."""
