"""Theme colours for table cells, which are Rich text and cannot use CSS variables.

Taken from the running theme so rows read well on dark and light themes alike; rebuilt when the
theme changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.style import Style
from textual.app import App
from textual.color import Color

from jobcore.state.models import JobStatus


@dataclass(frozen=True)
class Palette:
    """Rich styles for the dashboard's cells."""

    status: dict[JobStatus, Style]
    """Colour of each status word."""
    bar: Style
    """The done part of a progress bar."""
    bar_back: Style
    """The remaining part of a progress bar."""
    muted: Style
    """Secondary text: unknown values, reasons."""

    @classmethod
    def from_app(cls, app: App[Any]) -> Palette:
        variables = app.theme_variables
        background = Color.parse(variables["background"])

        def color(name: str, bold: bool = False) -> Style:
            # Some theme colours are translucent: blend them over the background as CSS would.
            return Style(color=(background + Color.parse(variables[name])).rich_color, bold=bold)

        return cls(
            status={
                JobStatus.QUEUED: color("secondary"),
                JobStatus.RUNNING: color("primary", bold=True),
                JobStatus.PAUSED: color("warning"),
                JobStatus.COMPLETED: color("success"),
                JobStatus.FAILED: color("error", bold=True),
                JobStatus.CANCELLED: color("foreground-muted"),
            },
            bar=color("success"),
            bar_back=color("foreground-disabled"),
            muted=color("foreground-muted"),
        )

    @classmethod
    def plain(cls) -> Palette:
        """No colours (before the app is running)."""
        return cls({status: Style() for status in JobStatus}, Style(), Style(dim=True), Style())
