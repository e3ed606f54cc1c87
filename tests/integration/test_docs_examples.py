"""The python examples of the guides in docs/, run as printed: each page's blocks in order, in
one fresh interpreter, against a real server (as the README's are, in test_readme.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.support.processes import ROOT

BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
PAGES = ["docs/dependencies.md"]


@pytest.mark.parametrize("page", PAGES)
def test_a_guides_examples_run_as_printed(page, server_url, queue_name, tmp_path):
    blocks = BLOCK.findall((ROOT / page).read_text("utf-8"))
    assert blocks, f"{page} has no python example"
    done = subprocess.run(
        [sys.executable, "-c", "\n\n".join(blocks)],
        check=False,
        cwd=tmp_path,
        env={
            **os.environ,
            "FAIRQUE_REDIS_URL": server_url,
            "FAIRQUE_QUEUE": queue_name,
            "PYTHONPATH": str(ROOT),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    if page == "docs/dependencies.md":  # what the page says each example prints
        assert done.stdout.split("\n")[:7] == [
            "notify done", "4", "[0, 1, 4, 9]", "14", "False True", "{'version': 2}", "",
        ]  # fmt: skip
