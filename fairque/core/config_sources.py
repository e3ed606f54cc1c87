"""Where settings come from besides code: ``FAIRQUE_*`` environment variables and the TOML
file, how they are layered, and how a validation error is worded.

Plain functions rather than pydantic-settings: importing that package took about 0.3 s,
which every command, worker and shell completion paid at start."""

from __future__ import annotations

import json
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import pydantic

from fairque.core.exceptions import ConfigError

ENV_PREFIX = "FAIRQUE_"
_SECTIONS = ("redis", "queue", "workers", "scheduler", "alerts")
_SHORTCUTS = {
    "FAIRQUE_REDIS_URL": ("redis", "url"),
    "FAIRQUE_REDIS_CLUSTER": ("redis", "cluster"),
    "FAIRQUE_QUEUE": ("queue", "name"),
}
# The file ``FairQueueConfig.load`` reads, while it loads.
toml_path: ContextVar[Path | None] = ContextVar("fairque_toml_path", default=None)


def _env_value(raw: str) -> Any:
    text = raw.strip()
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            return raw
    return raw


def env_settings() -> dict[str, Any]:
    """``FAIRQUE_<SECTION>__<FIELD>[__<SUB>...]`` plus the shortcuts; other names are ignored."""
    data: dict[str, Any] = {}
    for name, raw in os.environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        if name in _SHORTCUTS and not (name == "FAIRQUE_QUEUE" and raw.strip()[:1] == "{"):
            path: list[str] = list(_SHORTCUTS[name])
        else:
            path = name[len(ENV_PREFIX) :].lower().split("__")
            if path[0] not in _SECTIONS:
                continue
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[path[-1]] = _env_value(raw)
    return data


def toml_settings() -> dict[str, Any]:
    """The TOML file being loaded (``toml_path``), or nothing."""
    path = toml_path.get()
    if path is None:
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def layered(*highest_first: dict[str, Any]) -> dict[str, Any]:
    """The layers merged: tables merge key by key, any other value of a higher layer wins."""
    merged: dict[str, Any] = {}
    for layer in reversed(highest_first):
        merged = _merge(merged, layer)
    return merged


def _merge(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
    out = dict(low)
    for key, value in high.items():
        below = out.get(key)
        out[key] = (
            _merge(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
        )
    return out


def describe_validation_error(exc: pydantic.ValidationError, source: str = "") -> str:
    """One line per problem, each naming the dotted field path."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(part) for part in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{loc}: {msg}")
    where = f" in {source}" if source else ""
    return f"invalid configuration{where}: " + "; ".join(lines)
