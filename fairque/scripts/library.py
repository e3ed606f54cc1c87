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

The library's name carries a digest of what it is composed from (every Lua file, the key
schema and defaults written into it, the code that composes it): processes of different
fairque versions load side by side and each calls its own; redeploying a version loads
nothing new. A process needs only the name to call the scripts, and reading and hashing
the inputs takes about a millisecond where composing the library takes 15-20 ms (a
worker's start, every command that changes something): the source is composed when a
server lacks the library and it is loaded.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import fairque.scripts as scripts_package
from fairque.core.keys import TEMPLATES
from fairque.scripts import SCRIPT_NAMES, compose_parts, header

# Scripts that only read run with EVAL_RO (an account that may only read can run them), so
# the library leaves them out.
READ_ONLY = frozenset({"explain", "user_rows"})
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


LIBRARY_SCRIPTS = tuple(name for name in SCRIPT_NAMES if name not in READ_ONLY)


def composed_from() -> list[bytes]:
    """Everything the library is composed from: each Lua file of the package (by name), the
    header for every key (the key schema and the defaults written into the scripts), and
    the two modules that compose them."""
    lua = resources.files(scripts_package).joinpath("lua")
    files = sorted((f for f in lua.iterdir() if f.name.endswith(".lua")), key=lambda f: f.name)
    return [
        *(f.name.encode() + b"\n" + f.read_bytes() for f in files),
        header(set(TEMPLATES)).encode(),
        Path(scripts_package.__file__ or "").read_bytes(),
        Path(__file__).read_bytes(),
    ]


@cache
def library_name() -> str:
    """``fairque_<16 hex digits>``, the digest of :func:`composed_from`; of the composed
    source where the modules' source files are not installed (bytecode only)."""
    try:
        parts = composed_from()
    except OSError:
        declarations, helpers, begin, bodies = _composed()
        parts = [t.encode() for t in (declarations, helpers, begin, *bodies.values())]
    return "fairque_" + hashlib.sha1(b"\0".join(parts)).hexdigest()[:16]


def library_function(script: str) -> str:
    """The function a writing script is in the library (KeyError for a read-only one)."""
    if script not in LIBRARY_SCRIPTS:
        raise KeyError(f"{script!r} is not in the function library")
    return f"{library_name()}_{script}"


@cache
def _composed() -> tuple[str, str, str, dict[str, str]]:
    """The library's parts: declarations of the per-call state, the helpers, the body of
    ``begin``, and each script's body."""
    head, common, bodies = compose_parts(list(LIBRARY_SCRIPTS))
    declarations, helpers, begin = _per_call_state(head + common)
    return declarations, helpers, begin, bodies


@cache
def library() -> Library:
    """Compose the library (cached per process): what ``FUNCTION LOAD`` sends."""
    declarations, helpers, begin, bodies = _composed()
    name = library_name()
    functions = {script: library_function(script) for script in LIBRARY_SCRIPTS}
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
