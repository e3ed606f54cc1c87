"""The ``fairque-tui`` command's entry point: the TUI's toolkit comes with the ``tui`` extra,
so without it the command says which extra to install, in one line (exit 2), before anything
imports Textual."""

from __future__ import annotations

import sys


def main() -> None:
    from fairque.core.exceptions import MissingExtra
    from fairque.extras import require

    try:
        require("tui", "fairque-tui (the terminal and browser dashboard)")
    except MissingExtra as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    from fairque_tui.cli import main as tui_main

    tui_main()
