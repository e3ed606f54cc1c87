"""Layering rules: the core never imports the UI toolkits (import-linter) nor pickle."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    proc = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout


def test_importing_the_core_loads_no_ui_toolkit():
    code = (
        "import sys, fairque, fairque.queue, fairque.server;"
        "bad = {'click', 'textual', 'plotext', 'rich', 'pickle'} & set(sys.modules);"
        "print(sorted(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


UNSAFE = re.compile(r"^\s*(import|from)\s+(c?pickle|marshal|shelve|dill)\b|\bpickle\.", re.M)


def test_no_pickle_in_the_source():
    sources = [*(ROOT / "fairque").rglob("*.py"), *(ROOT / "fairque_tui").rglob("*.py")]
    offenders = [str(p.relative_to(ROOT)) for p in sources if UNSAFE.search(p.read_text())]
    assert offenders == []
    assert UNSAFE.search("import pickle\n") and UNSAFE.search("x = pickle.loads(b)")
