"""The Lua scripts and their loader.

Each script is composed at load time, so nothing is copy-pasted between scripts:
``local PREFIX = ARGV[1]``, the key functions generated from
:data:`fairque.core.keys.TEMPLATES`, the helpers it uses from the helper files
(:data:`HELPER_FILES`: ``common.lua``, ``limits.lua``, ... ``routing.lua``), then the script's
own file. Every script takes ``KEYS[1]`` = the queue's meta key (which routes it to the
queue's slot) and ``ARGV[1]`` = the queue's key prefix.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from fairque.core.config import QueueConfig
from fairque.core.keys import lua_key_expression, lua_key_functions

SCRIPT_NAMES = (
    "push",
    "pop",
    "complete",
    "fail",
    "heartbeat",
    "release",
    "requeue",
    "retry_now",
    "worker_beat",
    "sched_lock",
    "user_admin",
    "drain",
    "purge",
    "explain",
    "user_rows",
    "sched_advance",
    "register",
    "unregister",
    "settings_apply",
    "cancel",
    "watch",
    "progress",
)
# Composed into the scripts in this order (a helper only uses the ones before it), never run
# alone.
HELPER_FILES = (
    "common", "events", "ends", "limits", "roundrobin", "charges", "lifecycle", "dependents",
    "throttle", "routing", "dispatch",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LuaScript:
    """A composed script: its name, full source and SHA1 (what EVALSHA takes)."""

    name: str
    source: str
    sha: str


def _read(name: str) -> str:
    return resources.files(__package__).joinpath("lua", f"{name}.lua").read_text("utf-8")


_FUNCTION = re.compile(r"^local function (\w+)\(")
_KEY_USE = re.compile(r"\bK\.(\w+)\b(?!\()")


def _blocks(helpers: str) -> list[tuple[str | None, str]]:
    """The helper files as (function name, text) blocks; other lines are (None, line)."""
    lines = helpers.splitlines(keepends=True)
    blocks: list[tuple[str | None, str]] = []
    i = 0
    while i < len(lines):
        match = _FUNCTION.match(lines[i])
        if match is None:
            blocks.append((None, lines[i]))
            i += 1
            continue
        j = i
        if not lines[i].rstrip().endswith(" end"):  # not a one-line function
            while lines[j].rstrip() != "end":
                j += 1
        blocks.append((match.group(1), "".join(lines[i : j + 1])))
        i = j + 1
    return blocks


_CALL = re.compile(r"\b(\w+)\(")


@cache
def _helpers() -> tuple[list[tuple[str | None, str]], dict[str, set[str]]]:
    """The helper files' blocks (read and split once per process) and, for each helper
    function, the helper functions it calls."""
    blocks = _blocks("".join(_read(name) for name in HELPER_FILES))
    names = {fn for fn, _ in blocks if fn}
    calls = {fn: set(_CALL.findall(text)) & names for fn, text in blocks if fn}
    # Top-level statements between functions run in every script: what they call is needed.
    top = "".join(t for n, t in blocks if n is None)
    calls[""] = set(_CALL.findall(top)) & names
    return blocks, calls


def _needed_common(body: str) -> str:
    """The parts of the helper files that ``body`` uses, directly or through each other.

    Scripts run their whole source on every call, so defining helpers (closures) a script
    never calls is measurable work on the hot path; this leaves them out."""
    blocks, calls = _helpers()
    needed: set[str] = set()
    todo = (set(_CALL.findall(body)) & set(calls)) | calls[""]
    while todo:
        fn = todo.pop()
        if fn not in needed:
            needed.add(fn)
            todo |= calls[fn] - needed
    return "".join(t for n, t in blocks if n is None or n in needed)


_KEY_CALL = re.compile(r"\bK\.(\w+)\(")


def _inline_key_calls(text: str) -> str:
    """Every ``K.<name>(args)`` call written out as its string expression.

    A script runs its whole source on each call: a key function defined there is a closure
    made every time, and each use a Lua call. Written out, neither happens. Key functions
    passed as values (``bump(K.tp, ...)``) stay functions."""
    out: list[str] = []
    pos = 0
    while (m := _KEY_CALL.search(text, pos)) is not None:
        args, end = _call_args(text, m.end())
        out.append(text[pos : m.start()])
        out.append(lua_key_expression(m.group(1), [_inline_key_calls(a) for a in args]))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _call_args(text: str, start: int) -> tuple[list[str], int]:
    """The comma-separated arguments of a call whose ``(`` ends at ``start``, and where the
    call ends (after its ``)``). Nested brackets and quoted strings are skipped whole."""
    args: list[str] = []
    depth, i, begin, quote = 0, start, start, ""
    while True:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                if text[begin:i].strip() or args:
                    args.append(text[begin:i])
                return args, i + 1
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(text[begin:i])
            begin = i + 1
        i += 1


def header(keys: set[str]) -> str:
    """What precedes the helpers: the prefix, the defaults, the key functions in ``keys``."""
    return "\n".join(
        [
            "local PREFIX = ARGV[1]",
            f"local DEFAULT_DLQ_MAX = {QueueConfig().dlq_max}",
            f"local DEFAULT_IDLE_MS = {round(QueueConfig().idle_user_seconds * 1000)}",
            lua_key_functions(keys),
        ]
    )


def compose_parts(names: list[str]) -> tuple[str, str, dict[str, str]]:
    """The header, the helpers the scripts ``names`` use, and each one's body, with key calls
    written out: one script (EVALSHA) or all of them (the function library)."""
    raw = {name: _read(name) for name in names}
    common = _inline_key_calls(_needed_common("\n".join(raw.values())))
    bodies = {name: _inline_key_calls(body) for name, body in raw.items()}
    keys = set(_KEY_USE.findall(common + "".join(bodies.values())))  # still used as values
    return header(keys), common, bodies


@cache
def load_script(name: str) -> LuaScript:
    """Compose script ``name`` (cached)."""
    if name not in SCRIPT_NAMES:
        raise KeyError(f"no Lua script named {name!r}")
    header, common, bodies = compose_parts([name])
    source = "\n".join([f"-- fairque script: {name}", header, common, bodies[name]])
    return LuaScript(name, source, hashlib.sha1(source.encode("utf-8")).hexdigest())


class ScriptShas(dict[str, str]):
    """Script name -> SHA1, each script composed when first asked for: composing all of them
    cost every process about 20 ms at start, and most use a few."""

    def __missing__(self, name: str) -> str:
        sha = self[name] = load_script(name).sha
        return sha
