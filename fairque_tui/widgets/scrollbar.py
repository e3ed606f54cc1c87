"""Scrollbars whose thumb fills whole cells.

Textual draws the ends of a scrollbar's thumb with partial block glyphs (▁..▇, ▏..▉) for
sub-cell precision. In a two-cell-wide vertical scrollbar that is "▇▇" at the right edge, which
many terminal fonts draw with gaps or at another width, so it reads as a glyph left over from
another screen. Snapping the thumb to whole cells costs half a row of precision and draws only
coloured blanks.
"""

from __future__ import annotations

from typing import ClassVar

from textual.scrollbar import ScrollBarRender


class WholeCellScrollBarRender(ScrollBarRender):
    VERTICAL_BARS: ClassVar[list[str]] = [" "] * 8
    HORIZONTAL_BARS: ClassVar[list[str]] = [" "] * 8
