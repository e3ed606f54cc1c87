"""fairque observed, plus a JSON log line per completed task (--log-tasks): what indexing
every task in a log pipeline costs."""

from __future__ import annotations

from fairque_drain import main

if __name__ == "__main__":
    main(
        ("--health-port", "0", "--log-format", "json", "--log-tasks"),
        name="fairque_tasklog",
    )
