"""The full-screen log of one job: the whole log, read lazily from its end, searchable.

``LogLines`` is a ``ScrollView`` drawing with ``render_line`` from a ``LogFile`` index and an
LRU of rendered lines (as toolong's ``LogLines``): opening a gigabyte log reads its last
blocks only, and scrolling back indexes one more stretch when the top comes near. Following
(``f``, ``End``) keeps the view at the bottom as the job writes; ``/`` searches, ``n`` and
``N`` go to the next and previous match. Colours are kept; every other control sequence the
command wrote is dropped (``jobcore.view.screen_text``).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from pathlib import Path

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import reactive
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input, Static

from jobcore.base.errors import JobcoreError
from jobcore.view.screen_text import screen_text
from jobtui.log_file import LogFile

FOLLOW_S = 0.25
"""How often a followed log looks for new output."""
CACHE_LINES = 1000
"""Rendered lines kept."""
KEYS = "esc back  / search  n N next/prev  f follow  g top  G bottom"
"""The keys, as one line of text: a Footer's widgets cost more to lay out than the log's
first screen does to read (opening must stay quick)."""


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
        self._lock = asyncio.Lock()
        """One read of the file at a time changes the index."""
        self._extending = False

    async def load(self) -> None:
        """Open the file and index its last screenful (and a little more)."""
        async with self._lock:
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
            self.scroll_end(animate=False, immediate=True)

    def on_unmount(self) -> None:
        self.log_file.close()

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.log_file))
        self._cache.clear()
        self.refresh()

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
        self._cache.clear()
        log = self.log_file
        if not len(log):
            return False
        if self.current is None:  # from the view: its top going down, its bottom going up
            top = min(len(log) - 1, round(self.scroll_y))
            bottom = round(self.scroll_y) + self.size.height
            frm = log.starts[top] if forward else (
                log.starts[bottom] if bottom < len(log) else log.end
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
        self._cache.clear()
        self.scroll_to(y=max(0, self.current - self.size.height // 2), animate=False)
        self.refresh()
        return True

    # -- drawing -------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self.error is not None:
            line = Strip([Segment(self.error if y == 0 else "", self.rich_style)])
            return line.crop_extend(0, width, self.rich_style)
        index = round(self.scroll_y) + y
        if index >= len(self.log_file):
            return Strip.blank(width, self.rich_style)
        strip = self._cache.get(index)
        if strip is None:
            strip = self._draw(index)
            self._cache[index] = strip
            if len(self._cache) > CACHE_LINES:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(index)
        return strip.crop_extend(0, width, self.rich_style)

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


class LogScreen(Screen[None]):
    """One job's log, full screen: follow, search, top and bottom."""

    BINDINGS = [  # noqa: RUF012 - Textual merges class-level BINDINGS
        Binding("escape,q", "close", "Back", id="log-close", tooltip="Back to the dashboard"),
        Binding("slash", "search", "Search", id="log-search", tooltip="Search the log"),
        Binding("n", "next(True)", "Next", id="log-next", tooltip="Next match"),
        Binding("N", "next(False)", "Prev", id="log-prev", tooltip="Previous match"),
        Binding("f,end", "follow", "Follow", id="log-follow", tooltip="Follow new output"),
        Binding("G", "follow", "Bottom", show=False),
        Binding("g,home", "top", "Top", id="log-top", show=False, tooltip="First line"),
    ]

    def __init__(self, path: Path, title: str) -> None:
        super().__init__()
        self.path = path
        """The log shown."""
        self.title_text = title
        """Whose log it is (the job's id and name)."""

    def compose(self) -> ComposeResult:
        yield Static(id="log-title")
        yield LogLines(self.path, id="log-lines")
        yield Input(placeholder="search (enter: find, n/N: next/previous)", id="log-find")
        yield Static(KEYS, id="log-keys")

    @property
    def lines(self) -> LogLines:
        return self.query_one(LogLines)

    async def on_mount(self) -> None:
        self.query_one("#log-find", Input).display = False
        lines = self.lines
        lines.focus()
        await lines.load()
        self._show_title()
        self.set_interval(FOLLOW_S, self._poll)
        self.watch(lines, "follow", self._show_title, init=False)

    async def _poll(self) -> None:
        await self.lines.poll()
        self._show_title()

    def _show_title(self, *_: object) -> None:
        lines = self.lines
        log = lines.log_file
        parts = [self.title_text]
        if lines.error is None:
            count = len(log)
            shown = f"{count:,} line{'' if count == 1 else 's'}"
            shown += "" if log.complete else "+ (reading back)"
            parts += [shown, "following" if lines.follow else "f: follow"]
        if lines.needle:
            parts.append(f"/{lines.needle}")
        self.query_one("#log-title", Static).update(Text(" · ".join(parts), no_wrap=True))

    def action_close(self) -> None:
        find = self.query_one("#log-find", Input)
        if find.has_focus:
            find.display = False
            self.lines.focus()
            return
        self.dismiss()

    def action_search(self) -> None:
        find = self.query_one("#log-find", Input)
        find.display = True
        find.focus()

    @on(Input.Submitted, "#log-find")
    async def _search(self, event: Input.Submitted) -> None:
        find = self.query_one("#log-find", Input)
        find.display = False
        self.lines.focus()
        self.lines.current = None
        if not await self.lines.find(event.value, forward=False):
            self.notify(f"not found: {event.value}", timeout=2)
        self._show_title()

    async def action_next(self, forward: bool) -> None:
        lines = self.lines
        if not lines.needle:
            self.action_search()
            return
        if not await lines.find(lines.needle, forward):
            self.notify(f"no {'later' if forward else 'earlier'} match", timeout=2)
        self._show_title()

    def action_follow(self) -> None:
        self.lines.follow = True
        self._show_title()

    async def action_top(self) -> None:
        """The first line: the whole file is indexed on the way (what the user asked for)."""
        lines = self.lines
        lines.follow = False
        await lines.extend_back(0, 0)
        lines.scroll_home(animate=False, immediate=True)
        self._show_title()
