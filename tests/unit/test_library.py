"""The function library's composition: one function per writing script, named after the
library's version, and the helpers' per-call state assigned on every call."""

from __future__ import annotations

from importlib import resources

import pytest

import fairque.scripts
from fairque.core.keys import TEMPLATES
from fairque.scripts import SCRIPT_NAMES, header
from fairque.scripts.library import (
    READ_ONLY,
    _per_call_state,
    composed_from,
    library,
    library_function,
    library_name,
)


def test_every_writing_script_is_one_function_named_after_the_library():
    lib = library()
    assert lib.name.startswith("fairque_") and lib.source.startswith(f"#!lua name={lib.name}\n")
    assert set(lib.functions) == set(SCRIPT_NAMES) - READ_ONLY
    for script, function in lib.functions.items():
        assert function == f"{lib.name}_{script}"
        assert f"redis.register_function('{function}', function(KEYS, ARGV)" in lib.source


def test_top_level_state_is_declared_once_and_assigned_by_begin():
    declarations, kept, begin = _per_call_state(
        "local NOW = redis.call('TIME')\n"
        "local A, B = 1, 2  -- why\n"
        "local function f(x)\n  local y = x\n  return y\nend\n"
        "local function g() return NOW end\n"
        "local K = {}\nK.meta = function() return PREFIX .. 'meta' end\n"
    )
    assert declarations == "local NOW\nlocal A, B\n"
    assert begin == "  NOW = redis.call('TIME')\n  A, B = 1, 2  -- why\n"
    assert "local y = x" in kept and "redis.call('TIME')" not in kept  # a function's own line
    assert "K.meta = function" in kept


def test_a_constant_is_made_once_at_load_not_per_call():
    declarations, kept, begin = _per_call_state(
        "local NAMES = {'1', '2'}  -- constant\nlocal N = 0\n"
    )
    assert declarations == "local N\n" and begin == "  N = 0\n"
    assert "local NAMES = {'1', '2'}  -- constant" in kept


@pytest.mark.parametrize(
    "statement", ["redis.call('DEL', 'x')\n", "if X then Y() end\n", "local T = {\n  1,\n}\n"]
)
def test_a_statement_that_would_run_only_at_load_is_refused(statement):
    with pytest.raises(ValueError, match="cannot hold"):
        _per_call_state(statement)


def test_the_name_is_known_without_composing_and_is_the_composed_librarys():
    assert library().name == library_name()
    assert library_function("push") == library().functions["push"]
    with pytest.raises(KeyError):
        library_function("explain")  # read-only: run with EVAL_RO, not in the library


def test_the_name_covers_everything_the_library_is_composed_from():
    """A change to any Lua file, to the key schema or defaults, or to the composing code
    changes the name, so two versions never share one: each is in the digest's input."""
    parts = composed_from()
    lua = resources.files(fairque.scripts).joinpath("lua")
    for f in lua.iterdir():
        if f.name.endswith(".lua"):
            assert f.name.encode() + b"\n" + f.read_bytes() in parts, f.name
    assert header(set(TEMPLATES)).encode() in parts
    for module in ("__init__.py", "library.py"):
        assert (resources.files(fairque.scripts) / module).read_bytes() in parts
