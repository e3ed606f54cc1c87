"""Each Lua script's declared protocol (fairque/scripts/protocol.py) against its header, and
the check every call goes through."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from fairque.core.config import FairQueueConfig, QueueConfig
from fairque.queue.session import QueueSession
from fairque.scripts import SCRIPT_NAMES
from fairque.scripts.protocol import SPECS, ProtocolError

ARGV = re.compile(r"ARGV\[(\d+)(?:\.\.(\d*))?\]")


def header(name: str) -> str:
    text = resources.files("fairque.scripts").joinpath("lua", f"{name}.lua").read_text()
    lines = []
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        lines.append(line)
    return "\n".join(lines)


def test_every_script_has_a_spec() -> None:
    assert set(SPECS) == set(SCRIPT_NAMES)


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_the_header_states_the_declared_call(name: str) -> None:
    assert f"-- Call     {SPECS[name].signature()}" in header(name).splitlines()


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_the_header_documents_each_declared_position(name: str) -> None:
    """ARGV[1] is the prefix; each declared field has its ARGV[k] (or a range) in the header,
    none past them; trailing values (items or rest) are documented as an open range or as
    fields per item of the count."""
    spec = SPECS[name]
    single: set[int] = set()
    open_from: set[int] = set()
    for start, end in ARGV.findall(header(name)):
        if end == "" and ".." in header(name).split(f"ARGV[{start}", 1)[1][:2]:
            open_from.add(int(start))
        elif end:
            single.update(range(int(start), int(end) + 1))
        else:
            single.add(int(start))
    declared = set(range(1, len(spec.argv) + 2))
    assert single - open_from == declared
    trailing = len(spec.argv) + 2
    if spec.rest and not spec.each:
        assert open_from == {trailing}
    else:
        assert open_from <= {trailing}
    if spec.each:
        assert f"{len(spec.each)} fields per" in header(name)


def session() -> QueueSession:
    return QueueSession(FairQueueConfig(queue=QueueConfig(name="proto")))


def test_a_call_with_a_missing_field_is_refused_by_name() -> None:
    with pytest.raises(ProtocolError, match="heartbeat: 1 arguments"):
        session().call("heartbeat", 30_000)


def test_items_must_fill_their_count() -> None:
    s = session()
    s.call("release", 2, "a", "t1", "b", "t2")
    with pytest.raises(ProtocolError, match="release: 4 arguments for 2 items"):
        s.call("release", 2, "a", "t1", "b")


def test_push_takes_optional_sections_of_n_values() -> None:
    s = session()
    task = ("id", "u", 3, "{}")
    s.call("push", 1000, 2, *task, *task)
    s.call("push", 1000, 2, *task, *task, "resize", "")  # the handlers' section
    with pytest.raises(ProtocolError):
        s.call("push", 1000, 2, *task, *task, "resize")


def test_optional_trailing_fields() -> None:
    s = session()
    s.call("user_admin", "pause", "alice")
    s.call("user_admin", "rate", "alice", "5", 10, "")
    with pytest.raises(ProtocolError):
        s.call("user_admin", "pause")
    with pytest.raises(ProtocolError):
        s.call("unregister", "w1", "extra")
