"""A typed task's payload is checked by mypy at the call site (fairque ships py.typed)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from mypy import api

SNIPPET = """
from pydantic import BaseModel
from fairque import Task, TaskQueue, task

class In(BaseModel):
    width: int

class Out(BaseModel):
    pixels: int

@task("resize")
async def resize(job: In) -> Out:
    return Out(pixels=job.width)

@task("plain")
def plain(t: Task) -> int:
    return 1

def produce(q: TaskQueue) -> None:
    out: Out = resize.push(q, "u", In(width=3)).result(1)   # fine
    n: int = plain.push(q, "u", {"any": "json"}).result()    # fine
    resize.push(q, "u", {"width": 3})                       # line 22: not an In
    text: str = resize.push(q, "u", In(width=3)).result()   # line 23: an Out, not a str
"""


@pytest.mark.slow
def test_mypy_rejects_a_wrong_payload_and_a_wrong_result_type(tmp_path: Path) -> None:
    source = tmp_path / "producer.py"
    source.write_text(textwrap.dedent(SNIPPET))
    out, err, status = api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(source)]
    )
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1, out + err
    assert [line.split(":")[1] for line in errors] == ["22", "23"], out
    assert 'incompatible type "dict[str, int]"; expected "In"' in errors[0]
