"""The progress cell of a job row: a bar that shrinks with the terminal, then done/total and %.

Always the same width for a given bar width, so the column never jitters as numbers grow.
"""

from __future__ import annotations

from rich.text import Text

from jobcore.view.fmt import UNKNOWN
from jobtui.widgets.palette import Palette

COUNTS_WIDTH = 14
"""``12345/99999 100%`` is cut only beyond this; the column is at least this wide."""


def cell_width(bar_width: int) -> int:
    """Width of a progress cell with a bar of ``bar_width`` (0: no bar)."""
    return COUNTS_WIDTH + (bar_width + 1 if bar_width else 0)


def progress_cell(done: int, total: int | None, bar_width: int, palette: Palette) -> Text:
    """``━━━━━━╸━━━ 12/50  24%``; only a count when the total is unknown."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if total is None:
        if bar_width:
            text.append(" " * (bar_width + 1))
        text.append(str(done) if done else UNKNOWN, palette.muted if not done else "")
        return text
    fraction = 1.0 if total == 0 else min(1.0, done / total)
    if bar_width:
        filled_halves = round(fraction * bar_width * 2)
        full, half = divmod(filled_halves, 2)
        text.append("━" * full, palette.bar)
        if half:
            text.append("╸", palette.bar)
        rest = bar_width - full - half
        if rest:
            text.append("━" * rest, palette.bar_back)
        text.append(" ")
    text.append(f"{done}/{total} {fraction * 100:3.0f}%")
    return text
