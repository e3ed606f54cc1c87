"""A worker keeps run metrics only where they can be read: on its probe port."""

from __future__ import annotations

import logging

from fairque.core.models import AckResult
from fairque.worker.observe import RunObserver, SettledRun


def _run(failed: bool) -> SettledRun:
    return SettledRun("t1", "u", "resize", 1, 0.01, 3, failed, "ValueError" if failed else "")


def test_without_metrics_runs_are_still_logged_and_nothing_is_counted(caplog):
    observer = RunObserver("w1", metrics=False)
    assert observer.registry is None
    observer.exchanged(0.001, 2)
    observer.server_error()
    with caplog.at_level(logging.INFO, logger="fairque.tasks"):
        observer.settled([_run(failed=True)], {"t1": AckResult.DEAD})
    assert "outcome=dead" in caplog.text


def test_with_metrics_each_settled_run_is_counted():
    observer = RunObserver("w1")
    assert observer.registry is not None
    observer.settled([_run(failed=False), _run(failed=True)], {"t1": AckResult.OK})
    count = observer.registry.get_sample_value(
        "fairque_task_run_seconds_count",
        {"worker": "w1", "handler": "resize", "outcome": "completed"},
    )
    assert count == 1


def test_a_worker_counts_only_with_a_probe_port(make_config):
    from fairque.core.config_sections import WorkerConfig
    from fairque.worker import Worker

    plain = make_config(workers=[WorkerConfig(id="w1")])
    probed = make_config(workers=[WorkerConfig(id="w1", health_port=0)])
    assert Worker(plain, lambda task: None).core.observer.registry is None
    assert Worker(probed, lambda task: None).core.observer.registry is not None
