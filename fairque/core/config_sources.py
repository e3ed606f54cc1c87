"""Where settings come from besides code: ``FAIRQUE_*`` environment variables and the TOML
file (pydantic-settings sources), and how a validation error is worded."""

from __future__ import annotations

import json
import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import pydantic
from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

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


class EnvSource(PydanticBaseSettingsSource):
    """``FAIRQUE_<SECTION>__<FIELD>[__<SUB>...]`` plus the shortcuts; other names are ignored."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is done in __call__

    def __call__(self) -> dict[str, Any]:
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


class TomlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
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
