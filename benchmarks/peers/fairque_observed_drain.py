"""fairque as run in production: the same drain with the probe server (run metrics on
/metrics) and JSON logs on; per-task log lines stay off, as for every peer."""

from __future__ import annotations

from fairque_drain import main

if __name__ == "__main__":
    main(("--health-port", "0", "--log-format", "json"), name="fairque_observed")
