"""Every script composed into one Lua function library (``FUNCTION LOAD`` once, ``FCALL``).

A script sent with EVALSHA runs its whole source on each call: the helpers it uses are
defined again (a closure each) before its body runs, which measured 10-20 µs of server time
per call for push, pop and complete, and left garbage for the Lua collector to sweep. In a
library the helpers are defined once, when the library loads, and each script's body is a
function registered as ``fairque_<version>_<script>``.

The helper files' top-level statements (``local NOW_MS = ...``, ``local FLAGS = nil``) are
per-call state: in a library they are declared once and assigned afresh by ``begin``, the
first thing every function does, so a call never sees what the previous one left. A
statement marked ``-- constant`` (a table no script writes to) is made once, at load.

The library's name carries a hash of its source: processes of different fairque versions
load side by side and each calls its own; redeploying a version loads nothing new.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache

from fairque.scripts import SCRIPT_NAMES, compose_parts

# Scripts that only read run with EVAL_RO (an account that may only read can run them), so
# the library leaves them out.
READ_ONLY = frozenset({"explain"})
_STATE = re.compile(r"^local ([\w, ]+?) = (.+)$")
_KEY_FUNCTION = re.compile(r"^K\.\w+ = function\(.*\) return .* end$")


@dataclass(frozen=True, slots=True)
class Library:
    """The composed library: its name, source, and each script's function name."""

    name: str
    source: str
    functions: dict[str, str]


def _per_call_state(text: str) -> tuple[str, str, str]:
    """``text`` (the header and helpers) split into declarations of its per-call state,
    the text with those statements taken out, and the body of ``begin``.

    Outside functions the text may hold only comments, functions, the key functions and
    one-line ``local`` statements (kept as they are when marked ``-- constant``): anything
    else would run once, when the library loads, rather than on each call, so it is refused
    here (ValueError) rather than miscomposed."""
    declared: list[str] = []
    assigned: list[str] = []
    kept: list[str] = []
    inside = False  # in a multi-line function: its lines are its own
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if inside:
            inside = line.rstrip() != "end"
        elif stripped.startswith("local function"):
            inside = not stripped.endswith(" end")
        elif stripped == "local K = {}" or _KEY_FUNCTION.match(stripped):
            pass  # the key functions: built once, at load
        elif stripped.startswith("local ") and stripped.endswith("-- constant"):
            pass  # made once, at load: every call reads the same value
        elif stripped.startswith("local "):
            match = _STATE.match(stripped)
            if match is None:
                raise ValueError(f"a top-level statement a library cannot hold: {line!r}")
            declared.append(match.group(1))
            assigned.append(f"  {match.group(1)} = {match.group(2)}\n")
            continue
        elif stripped and not stripped.startswith("--"):
            raise ValueError(f"a top-level statement a library cannot hold: {line!r}")
        kept.append(line)
    declarations = "".join(f"local {names}\n" for names in declared)
    return declarations, "".join(kept), "".join(assigned)


@cache
def library() -> Library:
    """Compose the library (cached per process)."""
    scripts = [name for name in SCRIPT_NAMES if name not in READ_ONLY]
    header, common, bodies = compose_parts(scripts)
    declarations, helpers, begin = _per_call_state(header + common)
    digest = hashlib.sha1(
        "\n".join([declarations, helpers, begin, *bodies.values()]).encode("utf-8")
    ).hexdigest()[:16]
    name = f"fairque_{digest}"
    functions = {script: f"{name}_{script}" for script in scripts}
    parts = [
        f"#!lua name={name}",
        "-- fairque's scripts as one library: helpers defined once, a function per script.",
        declarations,
        helpers,
        "local function begin(ARGV)",
        begin,
        "end",
    ]
    for script, body in bodies.items():
        parts += [
            f"redis.register_function('{functions[script]}', function(KEYS, ARGV)",
            "begin(ARGV)",
            body,
            "end)",
        ]
    return Library(name, "\n".join(parts), functions)
