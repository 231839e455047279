"""One status panel: a list of job rows drawn with Textual's Line API.

A ``ScrollView`` whose ``render_line`` draws a header and then rows from its own cache (as
toolong's ``LogLines`` does): a row is rendered again only when its job, the layout or the
colours changed, and moving the cursor restyles two cached strips. Nothing of Textual's
private caches is touched, so the widget follows Textual's releases.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from jobcore.state.models import Job, JobStatus
from jobtui.columns import CellContext, Layout, header_text, row_segments
from jobtui.model import JobRow

HEADER_LINES = 1


class JobList(ScrollView, can_focus=True):
    """The jobs of one status, in the model's order, under the shared column header."""

    COMPONENT_CLASSES = {  # noqa: RUF012 - Textual reads it from the class
        "job-list--header",
        "job-list--cursor",
        "job-list--marked",
    }
    DEFAULT_CSS = """
    JobList {
        height: auto;
        overflow-x: hidden;
        & > .job-list--header { color: $text-muted; }
        & > .job-list--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .job-list--marked { text-style: bold; }
    }
    """
    BINDINGS = [  # noqa: RUF012 - Textual merges class-level BINDINGS
        Binding("enter", "choose", "Detail", id="detail", tooltip="Open this job's detail"),
        Binding("down,j", "cursor_down", "Down", show=False, id="down"),
        Binding("up,k", "cursor_up", "Up", show=False, id="up"),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, init=False, always_update=True)
    """The row under the cursor (0: the first job)."""

    @dataclass
    class Highlighted(Message):
        """The cursor moved to another job."""

        job_list: JobList
        job_id: str

    @dataclass
    class Chosen(Message):
        """Enter (or a double click) on a job: open its detail."""

        job_list: JobList
        job_id: str

    def __init__(self, status: JobStatus, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.status = status
        """The status this panel lists."""
        self.rows: list[JobRow] = []
        """The rows shown, in order."""
        self.jobs: dict[str, Job] = {}
        """The jobs shown, by id."""
        self._index: dict[str, int] = {}
        self._layout: Layout | None = None
        self._ctx: CellContext | None = None
        self._sort_column: str | None = None
        """The column the rows are sorted by (marked in the header)."""
        self._drawn_with: tuple[object, ...] = ()
        """What every row's rendering depends on (layout, colours, sort), as last drawn."""
        self._strips: dict[str, tuple[JobRow, int | None, Strip]] = {}
        """Each job's rendered row, with the row and the second it was rendered from."""
        self._header: Strip | None = None
        self._render_time = 0.0
        self._style: Style | None = None
        """The panel's own style (walking its ancestors for it was a fifth of a row's cost)."""

    # -- content --------------------------------------------------------------------------

    def sync(
        self, rows: list[JobRow], layout: Layout, ctx: CellContext, sort_column: str | None
    ) -> None:
        """Show ``rows``; rows whose job is unchanged keep their rendered strip."""
        if rows == self.rows and layout == self._layout and self._ctx is not None:
            ticked = round(ctx.now) != round(self._ctx.now) and any(
                row.job.status is JobStatus.RUNNING for row in rows
            )
            same_look = ctx.palette is self._ctx.palette and sort_column == self._sort_column
            if same_look and not ticked:
                return  # nothing on it changed: no redraw
        current = self.cursor_job_id
        # The clock is not part of it: only running rows show it, and they are redrawn when
        # their second changes (``_line``).
        drawn_with = (layout, id(ctx.palette), ctx.bar, ctx.counts, sort_column)
        self._layout, self._ctx, self._sort_column = layout, ctx, sort_column
        if drawn_with != self._drawn_with:
            self._drawn_with = drawn_with
            self._strips.clear()
            self._header = None
        self.rows = rows
        self.jobs = {row.job.id: row.job for row in rows}
        self._index = {row.job.id: index for index, row in enumerate(rows)}
        for job_id in [k for k in self._strips if k not in self._index]:
            del self._strips[job_id]
        self.virtual_size = Size(self.size.width, len(rows) + HEADER_LINES)
        if current is not None and current in self._index:
            self.set_reactive(JobList.cursor_row, self._index[current])
        elif self.cursor_row >= len(rows):
            self.set_reactive(JobList.cursor_row, max(0, len(rows) - 1))
        self.refresh()

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def cursor_job_id(self) -> str | None:
        """The id of the job under the cursor, if any."""
        if not self.rows:
            return None
        return self.rows[min(self.cursor_row, len(self.rows) - 1)].job.id

    def get_row_index(self, job_id: str) -> int:
        return self._index[job_id]

    def move_cursor(self, row: int, scroll: bool = True) -> None:
        """Put the cursor on ``row`` (clamped) and keep it in view."""
        self.cursor_row = max(0, min(row, len(self.rows) - 1))
        if scroll:
            self._scroll_to_cursor()

    def watch_cursor_row(self, old: int, new: int) -> None:
        self.refresh()
        job_id = self.cursor_job_id
        if job_id is not None:
            self.post_message(self.Highlighted(self, job_id))

    def _scroll_to_cursor(self) -> None:
        visible = max(1, self.size.height - HEADER_LINES)
        top = round(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False, immediate=True)

    # -- drawing --------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        started = time.thread_time()
        try:
            return self._line(y)
        finally:
            self._render_time += time.thread_time() - started

    def _line(self, y: int) -> Strip:
        width = self.size.width
        if self._style is None:
            self._style = self.rich_style
        base = self._style
        if self._layout is None or self._ctx is None:
            return Strip.blank(width)
        if y < HEADER_LINES:
            if self._header is None:
                text = header_text(self._layout, self.status, self._sort_column)
                style = self.get_component_rich_style("job-list--header")
                self._header = self._strip(text, style)
            return self._header.crop_extend(0, width, base)
        index = y - HEADER_LINES + round(self.scroll_y)
        if index >= len(self.rows):
            return Strip.blank(width, base)
        row = self.rows[index]
        second = round(self._ctx.now) if row.job.status is JobStatus.RUNNING else None
        cached = self._strips.get(row.job.id)
        if cached is None or cached[1] != second or cached[0] != row:
            segments = row_segments(row, self._layout, self._ctx, self.app.console)
            strip = Strip(Segment.apply_style(segments, base))
            self._strips[row.job.id] = (row, second, strip)
        else:
            strip = cached[2]
        if row.marked:
            strip = strip.apply_style(self.get_component_rich_style("job-list--marked"))
        if index == self.cursor_row and self.has_focus:
            cursor = self.get_component_rich_style("job-list--cursor")
            strip = Strip(Segment.apply_style(strip, post_style=cursor), strip.cell_length)
        return strip.crop_extend(0, width, base)

    def _strip(self, text: Text, style: Style) -> Strip:
        segments = list(text.render(self.app.console))
        return Strip(Segment.apply_style(segments, style), text.cell_len)

    def take_render_time(self) -> float:
        """UI-thread seconds spent drawing this panel since the last call (the app's pacing)."""
        spent, self._render_time = self._render_time, 0.0
        return spent

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._style = None
        self._header = None

    def on_focus(self) -> None:
        self.refresh()  # the cursor is drawn in the focused panel only

    def on_blur(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows) + HEADER_LINES)

    # -- keys and mouse -------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        index = event.y - HEADER_LINES + round(self.scroll_y)
        if 0 <= index < len(self.rows) and event.y >= HEADER_LINES:
            self.move_cursor(index)
            if event.chain == 2:
                self.action_choose()

    def action_choose(self) -> None:
        job_id = self.cursor_job_id
        if job_id is not None:
            self.post_message(self.Chosen(self, job_id))

    def action_cursor_down(self) -> None:
        if self.rows and self.cursor_row >= len(self.rows) - 1:
            self._move_to_panel(+1)
        else:
            self.move_cursor(self.cursor_row + 1)

    def action_cursor_up(self) -> None:
        if self.cursor_row <= 0:
            self._move_to_panel(-1)
        else:
            self.move_cursor(self.cursor_row - 1)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(len(self.rows) - 1)

    def action_page(self, step: int) -> None:
        self.move_cursor(self.cursor_row + step * max(1, self.size.height - HEADER_LINES))

    def _move_to_panel(self, step: int) -> None:
        """Up/down past the edge of a panel continues in the next visible one."""
        panels = [p for p in self.screen.query(JobList) if p.display and p.rows]
        index = panels.index(self) + step if self in panels else -1
        if 0 <= index < len(panels):
            target = panels[index]
            target.move_cursor(0 if step > 0 else len(target.rows) - 1)
            target.focus()
