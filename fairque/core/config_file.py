"""Which TOML file a process reads its settings from (no pydantic here: shell completion
needs the answer without loading the models)."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CONFIG_FILE = "fairque.toml"


def config_file(path: str | os.PathLike[str] | None = None) -> Path | None:
    """``path``, else ``$FAIRQUE_CONFIG``, else ``./fairque.toml`` when it exists, else None."""
    if path is not None:
        return Path(path)
    if os.environ.get("FAIRQUE_CONFIG"):
        return Path(os.environ["FAIRQUE_CONFIG"])
    return Path(DEFAULT_CONFIG_FILE) if Path(DEFAULT_CONFIG_FILE).exists() else None
