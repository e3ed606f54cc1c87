"""Charts drawn with plotext inside Textual (textual-plotext follows the app's theme)."""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot

from fairque.monitoring.models import ThroughputPoint


class ThroughputChart(PlotextPlot):
    """Pushed, completed and failed tasks per minute over the last hour."""

    DEFAULT_CSS = """
    ThroughputChart { min-height: 6; }
    """

    def show(self, points: Sequence[ThroughputPoint], minutes: int = 15) -> None:
        recent = list(points)[-minutes:]
        x = list(range(-len(recent) + 1, 1))
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("tasks per minute")
        series = {
            "pushed": [p.pushed for p in recent],
            "completed": [p.completed for p in recent],
            "failed": [p.failed + p.dead for p in recent],
        }
        for label, values in series.items():
            # An all-zero series is left out: drawn, it is a solid line along the axis (a red
            # bar for "failed", which reads as an error on a healthy queue).
            if any(values):
                plt.plot(x, values, label=label)
        plt.xlabel("minutes ago")
        self.refresh()


class FiguresChart(PlotextPlot):
    """A bar per benchmark figure, growing as the run reports them."""

    DEFAULT_CSS = """
    FiguresChart { min-height: 8; }
    """

    def show(self, title: str, figures: dict[str, float]) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        if figures:
            plt.bar(list(figures), [round(v, 1) for v in figures.values()])
        self.refresh()
