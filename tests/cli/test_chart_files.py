"""Benchmark charts saved as files: the formats, and the errors before a long run."""

from __future__ import annotations

import sys
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner

from fairque.cli.chart_files import ChartError, save_charts
from fairque.cli.charts import Bars
from fairque.cli.main import cli

BARS = [Bars("drain: per second", ["sync_x1", "async_x1"], [2500.0, 4000.0], "/s"),
        Bars("inspect <reads> (ms)", ["overview"], [3.2], "ms")]  # fmt: skip


def test_svg_has_a_bar_per_figure_scaled_to_the_largest(tmp_path):
    path = tmp_path / "c.svg"
    save_charts(BARS, str(path))
    root = ElementTree.parse(path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    bars = list(root.iter(f"{ns}rect"))[1:]
    widths = [float(r.get("width", 0)) for r in bars]
    assert len(widths) == 3 and widths[0] == pytest.approx(widths[1] * 2500 / 4000, abs=0.1)
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "inspect <reads> (ms)" in texts and "4,000/s" in texts and "3.2 ms" in texts


def test_unknown_formats_and_missing_pillow_are_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ChartError, match=r"\.svg or \.png"):
        save_charts(BARS, str(tmp_path / "c.gif"))
    monkeypatch.setitem(sys.modules, "PIL", None)  # as if Pillow were not installed
    with pytest.raises(ChartError, match=r"fairque\[charts\]"):
        save_charts(BARS, str(tmp_path / "c.png"))
    # The bench command says so before it runs anything (no server is even needed).
    r = CliRunner().invoke(cli, ["bench", "--scenario", "drain", "--out", str(tmp_path / "x.png")])
    assert r.exit_code == 1 and "fairque[charts]" in r.output
    assert not (tmp_path / "x.png").exists()
