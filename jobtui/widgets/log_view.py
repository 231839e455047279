"""The lines of the full-screen log (``LogScreen``): the whole log, read lazily from its end.

``LogLines`` is a ``ScrollView`` drawing with ``render_line`` from a ``LogFile`` index and an
LRU of rendered lines (as toolong's ``LogLines``): opening a gigabyte log reads its last
blocks only, and scrolling back indexes one more stretch when the top comes near. Following
(``f``, ``End``) keeps the view at the bottom as the job writes; ``/`` searches, ``n`` and
``N`` go to the next and previous match; ``w`` wraps long lines (the view then fills the
screen from its top line down, or at the bottom from the last line up, reading only those);
``i`` shows one batch item's lines at a time (a ``LogFile`` that indexes only them). Colours
are kept; every other control sequence the command wrote is dropped
(``jobcore.view.screen_text``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from pathlib import Path

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import work
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from jobcore.base.errors import JobcoreError
from jobcore.view.screen_text import screen_text
from jobtui.log_file import LogFile

FOLLOW_S = 0.25
"""How often a followed log looks for new output."""
CACHE_LINES = 1000
"""Rendered lines kept."""


class LogLines(ScrollView, can_focus=True):
    """The lines of one ``LogFile``; the index grows backwards as the view nears its top."""

    DEFAULT_CSS = """
    LogLines {
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
        & > .log-lines--match { background: $warning 40%; }
        & > .log-lines--current { background: $accent 30%; }
    }
    """
    COMPONENT_CLASSES = {"log-lines--match", "log-lines--current"}  # noqa: RUF012

    follow: reactive[bool] = reactive(True, init=False)
    """Stay at the bottom and show new output as it comes."""
    wrap: reactive[bool] = reactive(False, init=False)
    """Long lines go on over the next rows instead of being cut at the screen's edge."""

    def __init__(self, path: Path, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.log_file = LogFile(path)
        """The file and its index of lines."""
        self.needle = ""
        """The search text (highlighted in the lines)."""
        self.current: int | None = None
        """The line of the current match."""
        self.error: str | None = None
        """Why the log cannot be shown (missing, a symlink)."""
        self._cache: OrderedDict[int, Strip] = OrderedDict()
        self._view: tuple[tuple[int, int, int], list[Strip]] | None = None
        """The rows on screen when wrapping, and the (top line, width, height) they are for."""
        self._lock = asyncio.Lock()
        """One read of the file at a time changes the index."""
        self._extending = False

    async def load(self, only: tuple[bytes, ...] | None = None) -> None:
        """Open the file and index its last screenful (and a little more); with ``only``,
        afresh with only the lines that start with one of them (``()``: every line again)."""
        async with self._lock:
            if only is not None:
                self.log_file.close()
                self.log_file = LogFile(self.log_file.path, only)
                self.current = None
            try:
                await asyncio.to_thread(self.log_file.open)
            except FileNotFoundError:
                self.error = "no log yet"
                return
            except (JobcoreError, OSError) as exc:
                self.error = str(exc)
                return
            starts, top = await asyncio.to_thread(
                self.log_file.scan_back, max(100, 2 * self.size.height)
            )
            self.log_file.prepend(starts, top)
            self._resize()
            self.follow = True
            self.scroll_end(animate=False, immediate=True)

    def on_unmount(self) -> None:
        self.log_file.close()

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.log_file))
        self._forget()
        self.refresh()

    def _forget(self) -> None:
        """Draw every line afresh (the index, the search or the wrapping changed)."""
        self._cache.clear()
        self._view = None

    # -- growing the index ---------------------------------------------------------------------

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new < old and self.follow:
            self.follow = False
        if new < 2 * self.size.height and not self.log_file.complete and self.error is None:
            self._extend_back()

    @work(group="log-extend", exclusive=True)
    async def _extend_back(self) -> None:
        """Index another stretch before the top, as the view nears it."""
        await self.extend_back(max(200, 4 * self.size.height))

    async def extend_back(self, lines: int, down_to: int | None = None) -> None:
        """Index ``lines`` more lines before the top (or down to byte ``down_to``); the view
        stays on the lines it shows."""
        async with self._lock:
            if self.log_file.complete or self.error is not None:
                return
            starts, top = await asyncio.to_thread(self.log_file.scan_back, lines, down_to)
            self._prepend(starts, top)

    def _prepend(self, starts: object, top: int) -> None:
        added = self.log_file.prepend(starts, top)  # type: ignore[arg-type]
        if self.current is not None:
            self.current += added
        y = self.scroll_y + added
        self._resize()
        self.scroll_to(y=y, animate=False, immediate=True)

    async def poll(self) -> None:
        """Index what the job wrote since the last look; at the bottom, follow it."""
        if self.error is not None:
            return
        async with self._lock:
            try:
                await self._read_new()
            except (JobcoreError, OSError) as exc:  # removed (rm, clean) or replaced
                self.error = f"the log is gone: {exc}"
                self.refresh()
                return
        if self.follow:
            self.scroll_end(animate=False, immediate=True)

    async def _read_new(self) -> None:
        """New lines at the end; a file that shrank (truncated) is opened afresh."""
        starts, size, truncated = await asyncio.to_thread(self.log_file.scan_forward)
        if truncated:
            await asyncio.to_thread(self.log_file.open)
            starts, top = await asyncio.to_thread(self.log_file.scan_back, 200)
            self.log_file.prepend(starts, top)
            self.current = None
            self._resize()
        elif size != self.log_file.end:
            last = len(self.log_file) - 1
            self.log_file.append(starts, size)
            self._cache.pop(last, None)  # the last line may have grown
            self._resize()

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.scroll_end(animate=False, immediate=True)

    # -- search --------------------------------------------------------------------------------

    async def find(self, needle: str, forward: bool) -> bool:
        """Go to the next (or previous) line with ``needle``; False when there is none."""
        if self.error is not None or not needle:
            return False
        self.needle = needle
        self._forget()
        log = self.log_file
        if not len(log):
            return False
        if self.current is None:  # from the view: its top going down, its bottom going up
            top = min(len(log) - 1, round(self.scroll_y))
            bottom = round(self.scroll_y) + self.size.height
            frm = (
                log.starts[top]
                if forward
                else (log.starts[bottom] if bottom < len(log) else log.end)
            )
        elif forward:
            frm = log.starts[self.current + 1] if self.current + 1 < len(log) else log.end
        else:
            frm = log.starts[self.current]
        offset = await asyncio.to_thread(log.search, needle, frm, forward)
        if offset is None:
            self.refresh()
            return False
        self.follow = False
        if offset < log.top:
            await self.extend_back(0, offset)
        self.current = log.line_of(offset)
        self._forget()
        above = 1 if self.wrap else self.size.height // 2  # wrapped lines above may fill it
        self.scroll_to(y=max(0, self.current - above), animate=False)
        self.refresh()
        return True

    # -- drawing -------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self.error is not None:
            line = Strip([Segment(self.error if y == 0 else "", self.rich_style)])
            return line.crop_extend(0, width, self.rich_style)
        if self.wrap:
            rows = self._wrapped_rows()
            strip = rows[y] if y < len(rows) else Strip.blank(width, self.rich_style)
            return strip.crop_extend(0, width, self.rich_style)
        index = round(self.scroll_y) + y
        if index >= len(self.log_file):
            return Strip.blank(width, self.rich_style)
        return self._line(index).crop_extend(0, width, self.rich_style)

    def _line(self, index: int) -> Strip:
        """Line ``index`` drawn whole, from the cache when it is there."""
        strip = self._cache.get(index)
        if strip is None:
            strip = self._draw(index)
            self._cache[index] = strip
            if len(self._cache) > CACHE_LINES:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(index)
        return strip

    def _wrapped_rows(self) -> list[Strip]:
        """The screen's rows when wrapping: from the top line down, or, at the bottom (where
        the lines that wrap would push the last ones off), from the last line up."""
        width, height = self.size.width, self.size.height
        key = (round(self.scroll_y), width, height)
        if self._view is not None and self._view[0] == key:
            return self._view[1]
        count = len(self.log_file)
        rows: list[Strip] = []
        if count and key[0] >= self.max_scroll_y:
            index = count
            while index > 0 and len(rows) < height:
                index -= 1
                rows[:0] = self._pieces(index, width)
            rows = rows[-height:]
        else:
            index = key[0]
            while index < count and len(rows) < height:
                rows += self._pieces(index, width)
                index += 1
        self._view = (key, rows)
        return rows

    def _pieces(self, index: int, width: int) -> list[Strip]:
        """Line ``index`` cut into rows of ``width`` cells."""
        line = self._line(index)
        if line.cell_length <= width:
            return [line]
        return list(line.divide([*range(width, line.cell_length, width), line.cell_length]))

    def _draw(self, index: int) -> Strip:
        text = Text.from_ansi(screen_text(self.log_file.line(index)), no_wrap=True, end="")
        text.expand_tabs()
        if self.needle:
            match = self.get_component_rich_style("log-lines--match")
            text.highlight_words([self.needle], match, case_sensitive=False)
        style: Style = self.rich_style
        if index == self.current:
            style = style + self.get_component_rich_style("log-lines--current")
        text.stylize_before(style)
        return Strip(text.render(self.app.console), text.cell_len)

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.log_file))

    def watch_wrap(self) -> None:
        self._forget()
        self.refresh()
