"""The overview's chart of tasks per minute: a series that is zero throughout is not drawn
(drawn, "failed" was a solid red line along the axis on a healthy queue)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fairque.monitoring.models import ThroughputPoint
from fairque_tui.widgets.charts import ThroughputChart


def points(failed: int) -> list[ThroughputPoint]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [ThroughputPoint(minute=start + timedelta(minutes=i), pushed=50, completed=48,
                            failed=failed) for i in range(10)]  # fmt: skip


def test_an_all_zero_series_is_left_out_and_a_nonzero_one_drawn() -> None:
    chart = ThroughputChart()
    chart.show(points(failed=0))
    healthy = chart.plt.build()
    assert "pushed" in healthy and "completed" in healthy and "failed" not in healthy
    chart.show(points(failed=3))
    assert "failed" in chart.plt.build()
