"""A live tail of one job's log: the last lines first, then whatever is appended.

Reading starts from the end of the file (``jobcore.state.logs.tail``), so a gigabyte log opens
as fast as a small one, then follows from a byte offset (``Follower``); a log that shrank was
truncated and is shown afresh. File reads run in a thread, never on the UI thread. Lines keep their
colours (SGR sequences drawn as styles); every other control sequence the command wrote is
dropped (``jobcore.view.screen_text``), so output cannot clear or retitle the dashboard.
"""

from __future__ import annotations

import asyncio
import codecs
from pathlib import Path

from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widgets import Log

from jobcore.base.errors import JobcoreError
from jobcore.state.logs import Follower, tail
from jobcore.view.screen_text import plain_text, screen_text

TAIL_LINES = 200
MAX_LINES = 2000
"""Lines kept in memory; older ones scroll away."""


class LogTail(Log):
    """Follows one log file; ``follow`` switches files, ``poll`` reads what is new."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(max_lines=MAX_LINES, highlight=False, auto_scroll=True, id=id)
        self.path: Path | None = None
        """The log being followed."""
        self._follower: Follower | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    async def follow(self, path: Path) -> None:
        """Show the end of ``path`` and follow it from there."""
        try:
            data, offset = await asyncio.to_thread(tail, path, TAIL_LINES)
        except JobcoreError as exc:  # a planted symlink: say so instead of reading it
            data, offset = f"jobcore: {exc}\n".encode(), None
        self.path = path
        self._follower = None if offset is None else Follower(path, offset)
        self._decoder.reset()
        self.clear()
        self.write(self._decoder.decode(data))

    async def poll(self) -> None:
        """Append what was written since the last look."""
        follower = self._follower
        if follower is None:
            return
        before = follower.offset
        try:
            data = await asyncio.to_thread(follower.read_new)
        except JobcoreError:
            return
        if follower is not self._follower or not data:
            return
        if follower.offset - len(data) < before:
            self._decoder.reset()
            self.clear()
        self.write(self._decoder.decode(data))

    @classmethod
    def _process_line(cls, line: str) -> str:
        """A line as the pane measures it: what is drawn, without any escape sequence."""
        return plain_text(line).expandtabs()

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        """A line with its colours (``Log`` itself would show each ESC as U+FFFD), and the
        mouse selection as ``Log`` draws it."""
        line = Text.from_ansi(screen_text(self._lines[y]), no_wrap=True, end="")
        line.expand_tabs()
        line.stylize_before(rich_style)
        selection = self.text_selection
        if selection is not None and (span := selection.get_span(y - self._clear_y)):
            start, end = span
            style = self.screen.get_component_rich_style("screen--selection")
            line.stylize(style, start, len(line) if end == -1 else end)
        return Strip(line.render(self.app.console), line.cell_len)

    def on_resize(self) -> None:
        """A tail stays at its end when the pane around it changes height."""
        self.scroll_end(animate=False, immediate=True)
