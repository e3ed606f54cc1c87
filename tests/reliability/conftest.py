"""Prints every fault test's ledger figures (lost / duplicated / phantom) after the run."""

from __future__ import annotations

import pytest

from tests.support.ledger import FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("fault-test ledger figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
