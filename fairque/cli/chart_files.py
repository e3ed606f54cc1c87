"""Benchmark charts as files: ``fairque bench --out results.svg`` (or ``.png``).

SVG is written directly (rectangles and text, no dependency); PNG is drawn with Pillow, the
``charts`` extra (``pip install 'fairque[charts]'``). One horizontal bar chart per report,
stacked, with each bar's value written at its end.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from fairque.cli.charts import Bars
from fairque.core.exceptions import FairQueueError

CHART_SUFFIXES = (".svg", ".png")
WIDTH = 760
LABEL_W = 170  # room for the bar labels on the left
VALUE_W = 90  # room for the value after the longest bar
ROW_H = 26
TITLE_H = 34
GAP = 18
COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2")


class ChartError(FairQueueError):
    """The chart cannot be written (unknown format, or PNG without Pillow)."""


def _value(v: float, unit: str) -> str:
    text = f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.1f}"
    return text + unit if unit[:1] in ("%", "/") else f"{text} {unit}".strip()


def _layout(charts: Sequence[Bars]) -> tuple[int, list[int]]:
    """Total height and each chart's top."""
    tops, y = [], GAP
    for bars in charts:
        tops.append(y)
        y += TITLE_H + ROW_H * len(bars.labels) + GAP
    return y, tops


def _length(value: float, top: float) -> float:
    return 0.0 if top <= 0 else max(value, 0.0) / top * (WIDTH - LABEL_W - VALUE_W - GAP)


def to_svg(charts: Sequence[Bars]) -> str:
    height, tops = _layout(charts)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif">',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]
    for bars, top in zip(charts, tops, strict=True):
        out.append(f'<text x="{GAP}" y="{top + 20}" font-size="16" font-weight="bold" '
                   f'fill="#222">{escape(bars.title)}</text>')  # fmt: skip
        peak = max(bars.values, default=0.0)
        for i, (label, value) in enumerate(zip(bars.labels, bars.values, strict=True)):
            y = top + TITLE_H + i * ROW_H
            length = _length(value, peak)
            colour = COLOURS[i % len(COLOURS)]
            out += [
                f'<text x="{LABEL_W - 8}" y="{y + 17}" font-size="13" text-anchor="end" '
                f'fill="#333">{escape(label)}</text>',
                f'<rect x="{LABEL_W}" y="{y + 4}" width="{length:.1f}" height="{ROW_H - 8}" '
                f'fill="{colour}"/>',
                f'<text x="{LABEL_W + length + 6:.1f}" y="{y + 17}" font-size="13" '
                f'fill="#333">{escape(_value(value, bars.unit))}</text>',
            ]
    out.append("</svg>")
    return "\n".join(out) + "\n"


def check_png_support() -> None:
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise ChartError(
            "PNG charts need Pillow: pip install 'fairque[charts]' (or write .svg)"
        ) from None


def to_png(charts: Sequence[Bars], path: Path) -> None:
    check_png_support()
    from PIL import Image, ImageDraw, ImageFont

    height, tops = _layout(charts)
    scale = 2  # drawn at twice the size: crisp on high-density screens
    image = Image.new("RGB", (WIDTH * scale, height * scale), "white")
    draw = ImageDraw.Draw(image)
    title_font = ImageFont.load_default(size=16 * scale)
    font = ImageFont.load_default(size=13 * scale)
    for bars, top in zip(charts, tops, strict=True):
        draw.text((GAP * scale, (top + 6) * scale), bars.title, fill="#222222", font=title_font)
        peak = max(bars.values, default=0.0)
        for i, (label, value) in enumerate(zip(bars.labels, bars.values, strict=True)):
            y = top + TITLE_H + i * ROW_H
            length = _length(value, peak)
            mid = (y + ROW_H / 2) * scale
            draw.text(((LABEL_W - 8) * scale, mid), label, fill="#333333", font=font, anchor="rm")
            if length > 0:
                draw.rectangle(
                    [LABEL_W * scale, (y + 4) * scale, (LABEL_W + length) * scale,
                     (y + ROW_H - 4) * scale],
                    fill=COLOURS[i % len(COLOURS)],
                )  # fmt: skip
            draw.text(((LABEL_W + length + 6) * scale, mid), _value(value, bars.unit),
                      fill="#333333", font=font, anchor="lm")  # fmt: skip
    image.save(path, format="PNG")


def save_charts(charts: Sequence[Bars], path: str) -> None:
    """Write ``charts`` to ``path``; its suffix (.svg or .png) chooses the format."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in CHART_SUFFIXES:
        raise ChartError(f"{path}: a chart is .svg or .png")
    if not charts:
        raise ChartError("these scenarios have no chart to save (their figures are in the JSON)")
    if suffix == ".svg":
        target.write_text(to_svg(charts), encoding="utf-8")
    else:
        to_png(charts, target)
