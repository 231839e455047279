"""One status panel of the dashboard: a DataTable of jobs, updated in place.

Rows are keyed by job id and only changed cells are rewritten (``update_cell``), so the cursor
and the scroll position survive every refresh; ``clear()`` happens only when the columns change
because the panel was resized past a breakpoint. Columns drop by priority when the panel is
narrow, and the progress bar shrinks before anything else goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from jobcore.state.models import Job, JobStatus
from jobcore.view import fmt
from jobcore.view.screen_text import plain_text
from jobtui.usage import Usage
from jobtui.widgets.palette import Palette
from jobtui.widgets.progress_cell import COUNTS_WIDTH, progress_cell

BAR_MAX = 12
BAR_MIN = 5
CELL_GAP = 2
"""DataTable pads each cell by one column on both sides."""
CellLines = list[list[Segment]]
CELL_VARIANTS = 8
"""Renders kept per cell: plain, under the cursor, hovered, focused or not."""


@dataclass(frozen=True)
class Column:
    """A column a panel may show."""

    key: str
    label: str
    width: int
    """Width it needs to be worth showing."""
    priority: int
    """Lower survives longer when the panel is narrow."""
    grow: int = 0
    """Extra width it takes when there is room."""


COLUMNS: dict[str, Column] = {
    c.key: c
    for c in (
        Column("id", "ID", 5, 0),
        Column("host", "HOST", 12, 1, grow=16),
        Column("name", "NAME", 12, 1, grow=18),
        Column("progress", "PROGRESS", COUNTS_WIDTH, 2),
        Column("reason", "REASON", 16, 3, grow=60),
        Column("eta", "ETA", 6, 4),
        Column("rate", "RATE", 8, 5),
        Column("elapsed", "ELAPSED", 7, 6),
        Column("cpu", "CPU", 4, 8),
        Column("mem", "MEM", 6, 9),
        Column("item", "ITEM", 10, 10, grow=40),
        Column("status", "STATUS", 9, 11),
    )
}
"""Every column. The status column goes first: the panel's title already says it, while the
current item (which file, which repository) is what people look for in a batch."""

BAR = Column("bar", "", BAR_MIN + 1 - CELL_GAP, 7, grow=BAR_MAX - BAR_MIN)
"""The progress bar, as if it were a column: kept by priority, then merged into progress."""

PANEL_COLUMNS: dict[JobStatus, tuple[str, ...]] = {
    JobStatus.RUNNING: (
        "id",
        "name",
        "status",
        "progress",
        "rate",
        "eta",
        "elapsed",
        "item",
        "cpu",
        "mem",
    ),
    JobStatus.QUEUED: ("id", "name", "status", "progress", "item"),
    JobStatus.PAUSED: ("id", "name", "status", "progress", "elapsed", "item", "reason"),
    JobStatus.COMPLETED: ("id", "name", "status", "progress", "elapsed", "item"),
    JobStatus.FAILED: ("id", "name", "status", "progress", "elapsed", "reason"),
    JobStatus.CANCELLED: ("id", "name", "status", "progress", "reason"),
}
"""What each panel shows, in display order (finished jobs have no rate, ETA or process)."""


@dataclass(frozen=True)
class Layout:
    """Which columns fit, how wide each is, and how wide the progress bar is."""

    widths: tuple[tuple[str, int], ...]
    bar: int


def fit_columns(keys: Sequence[str], width: int) -> Layout:
    """Keep columns by priority while they fit in ``width``, then share out the rest by priority.

    The progress bar competes like a column (so it outlives CPU and memory) and is drawn inside
    the progress column.
    """
    candidates = [COLUMNS[k] for k in keys] + ([BAR] if "progress" in keys else [])
    chosen: dict[str, int] = {}
    used = 0
    for column in sorted(candidates, key=lambda c: c.priority):
        if used + column.width + CELL_GAP <= width or not chosen:
            chosen[column.key] = column.width
            used += column.width + CELL_GAP
    spare = max(0, width - used)
    # The name and the bar grow first, so every panel's bar is as wide as the others'.
    for column in sorted(candidates, key=lambda c: (c.key not in ("name", "bar"), c.priority)):
        if column.key in chosen:
            extra = min(column.grow, spare)
            chosen[column.key] += extra
            spare -= extra
    bar = chosen.pop(BAR.key, -1) + CELL_GAP - 1
    if bar > 0:
        chosen["progress"] += bar + 1
    return Layout(tuple((k, chosen[k]) for k in keys if k in chosen), max(0, bar))


def _size(rss: int) -> str:
    value = float(rss)
    for unit in ("B", "K", "M", "G"):
        if value < 1024 or unit == "G":
            return f"{value:.0f}{unit}" if unit in ("B", "K") else f"{value:.1f}{unit}"
        value /= 1024
    return fmt.UNKNOWN


def one_line(value: str) -> str:
    """Newlines and runs of spaces (``sh -c`` scripts) as single spaces: rows stay one line;
    no escape sequence from a command's output acts on the screen."""
    return " ".join(plain_text(value).split())


def _text(value: str | None, style: Style | str = "") -> Text:
    """User data as plain text: a name with ``[brackets]`` is not Rich markup."""
    return Text(one_line(value or fmt.UNKNOWN), style=style, no_wrap=True, overflow="ellipsis")


def _cell_line(
    console: Console, text: Text, width: int, padding: int, pre_style: Style, post_style: Style
) -> list[Segment]:
    """One line of a cell as DataTable draws it: padded, cut to fit, styles layered."""
    inner = max(0, width - 2 * padding)
    if text.cell_len > inner:
        text = text.copy()
        text.truncate(inner, overflow="ellipsis" if text.overflow == "ellipsis" else "crop")
    pad = Segment(" " * padding)
    if text.spans:
        body = list(text.render(console))
    else:  # Text.render applies the base style only through spans
        body = [Segment(text.plain, console.get_style(text.style) if text.style else None)]
    segments = [pad, *body, Segment(" " * (inner - text.cell_len)), pad]
    return list(Segment.apply_style(segments, pre_style, post_style))


class RowId(str):
    """The ID cell: a job's id as shown, carrying its row key (a remote job's is HOST/ID)."""

    key: str

    @classmethod
    def of(cls, key: str) -> RowId:
        cell = cls(key.rpartition("/")[2])
        cell.key = key
        return cell


class JobTable(DataTable[object]):
    """The jobs of one status, newest first, at most one page of them."""

    BINDINGS = [  # noqa: RUF012 - Textual merges class-level BINDINGS
        Binding("enter", "select_cursor", "Detail", id="detail", tooltip="Show this job's log"),
        Binding("j", "cursor_down", "Down", show=False, id="down"),
        Binding("k", "cursor_up", "Up", show=False, id="up"),
    ]

    def __init__(self, status: JobStatus, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, show_cursor=True)
        self.status = status
        """The status this panel lists."""
        self.jobs: dict[str, Job] = {}
        """The jobs shown, by id."""
        self.palette = Palette.plain()
        """Colours for the cells (set by the app from its theme)."""
        self._cell_lines: dict[tuple[RowKey, ColumnKey], dict[tuple[object, ...], CellLines]] = {}
        """Rendered body cells: (row, column) -> render variant (style, cursor...) -> lines."""
        self._render_time = 0.0
        self._order: list[Job] = []
        self._rows: dict[str, dict[str, object]] = {}
        self._layout: Layout | None = None
        self._usage: Mapping[str, Usage] = {}
        self._now = 0.0
        self.host_of: Callable[[Job], tuple[str, bool]] | None = None
        """With other hosts shown: a row's HOST cell and whether it is greyed (offline)."""

    # -- content --------------------------------------------------------------------------

    def sync(self, jobs: list[Job], now: float, usage: Mapping[str, Usage]) -> None:
        """Show ``jobs`` (newest first): add, remove and rewrite only what changed."""
        self._order, self._now, self._usage = jobs, now, usage
        if self._layout is None:
            return
        wanted = {job.id: job for job in jobs}
        for job_id in [k for k in self._rows if k not in wanted]:
            self.remove_row(job_id)
            del self._rows[job_id]
            for column in self.columns:
                self._cell_lines.pop((RowKey(job_id), column), None)
        added = False
        for job in jobs:
            cells = self._cells(job)
            old = self._rows.get(job.id)
            if old is None:
                self.add_row(*cells.values(), key=job.id)
                added = True
            else:
                changes = {key: value for key, value in cells.items() if old[key] != value}
                if changes:
                    self._update_row(job.id, changes)
            self._rows[job.id] = cells
        self.jobs = wanted
        if added:
            self._restore_order([job.id for job in jobs])

    def _update_row(self, job_id: str, changes: Mapping[str, object]) -> None:
        """Rewrite cells of one row and re-render that row only.

        ``update_cell`` would re-render every visible cell; here only the row's cache entries are
        dropped (DataTable internals: docs/decisions/0021-dashboard-redraws-only-what-changed.md).
        """
        row_key = RowKey(job_id)
        for key, value in changes.items():
            column = ColumnKey(key)
            self._data[row_key][column] = value
            self._cell_lines.pop((row_key, column), None)  # unchanged cells keep their render
        rows = self._row_render_cache
        for cache_key in [k for k in rows.keys() if k[0] == row_key]:  # noqa: SIM118
            rows.discard(cache_key)
        index = self.get_row_index(job_id)
        self._row_renderable_cache.discard((self._update_count, index))
        self._line_cache.clear()  # keyed by screen line: cheap to rebuild from the row caches
        self.refresh_row(index)

    def render_lines(self, crop: Region) -> list[Strip]:
        started = time.thread_time()
        try:
            return super().render_lines(crop)
        finally:
            self._render_time += time.thread_time() - started

    def take_render_time(self) -> float:
        """UI-thread seconds spent drawing this panel since the last call (the app's pacing)."""
        spent, self._render_time = self._render_time, 0.0
        return spent

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._cell_lines.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cell_lines.clear()

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        """A body cell drawn straight from its Text, cached like DataTable caches it.

        DataTable's general path is too slow per cell; every row here is one line high and every
        cell a string or a Text (docs/decisions/0021-dashboard-redraws-only-what-changed.md).
        """
        if row_index < 0 or column_index < 0:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        # Kept per cell (not in DataTable's table-wide LRU) so a changed cell is dropped
        # without scanning every cached render.
        variants = self._cell_lines.setdefault((row_key, column_key), {})
        variant = (
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
            width,
        )
        lines = variants.get(variant)
        if lines is None:
            component_style, post_style = self._get_styles_to_render_cell(
                False,
                False,
                False,
                hover,
                cursor,
                self.show_cursor,
                self._show_hover_cursor,
                self.cursor_foreground_priority == "css",
                self.cursor_background_priority == "css",
            )
            meta = Style.from_meta({"row": row_index, "column": column_index})
            value = self._data[row_key][column_key]
            text = value if isinstance(value, Text) else Text(str(value))
            lines = [
                _cell_line(
                    self.app.console,
                    text,
                    width,
                    self.cell_padding,
                    base_style + meta + component_style,
                    post_style,
                )
            ]
            if len(variants) >= CELL_VARIANTS:
                variants.clear()  # styles and widths that are gone (theme, resize, focus)
            variants[variant] = lines
        return lines

    def _restore_order(self, ids: list[str]) -> None:
        """New rows are appended; sort them into place and keep the cursor on its job."""
        if [row.key.value for row in self.ordered_rows] == ids:
            return
        current = self.cursor_job_id
        rank = {job_id: index for index, job_id in enumerate(ids)}
        self.sort("id", key=lambda cell: rank[getattr(cell, "key", str(cell))])
        if current is not None and current in rank:
            self.move_cursor(row=self.get_row_index(current), scroll=False)

    def _cells(self, job: Job) -> dict[str, object]:
        assert self._layout is not None
        running = job.status is JobStatus.RUNNING
        usage = self._usage.get(job.id) if running else None
        values: dict[str, object] = {}
        host, offline = self.host_of(job) if self.host_of else ("", False)
        for key, _ in self._layout.widths:
            value: object
            if key == "id":
                value = RowId.of(job.id)
            elif key == "host":
                value = _text(host, self.palette.muted if offline else "")
            elif key == "name":
                value = _text(job.label)
            elif key == "status":
                value = Text(job.status.value, style=self.palette.status[job.status])
            elif key == "progress":
                value = progress_cell(job.done, job.total, self._layout.bar, self.palette)
            elif key == "rate":
                value = fmt.rate(job.rate) if running else fmt.UNKNOWN
            elif key == "eta":
                value = fmt.duration(job.eta_s if running else None)
            elif key == "elapsed":
                value = fmt.duration(job.elapsed(self._now))
            elif key == "item":
                value = _text(job.current_item)
            elif key == "cpu":
                value = f"{usage.cpu_percent:.0f}%" if usage else fmt.UNKNOWN
            elif key == "mem":
                value = _size(usage.rss) if usage else fmt.UNKNOWN
            else:
                value = _text(job.reason, self.palette.muted)
            values[key] = value
        if offline:  # the last snapshot of a host that is offline: greyed (the id is the key)
            muted = self.palette.muted
            values = {k: v if k == "id" else Text(str(v), style=muted) for k, v in values.items()}
        return values

    @property
    def cursor_job_id(self) -> str | None:
        """The id of the job under the cursor, if any."""
        if not self.row_count:
            return None
        key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return key.value

    # -- layout ---------------------------------------------------------------------------

    def on_resize(self) -> None:
        self.relayout()

    def relayout(self, force: bool = False) -> None:
        """Pick the columns for the current width; rebuild the table only if they changed."""
        width = self.size.width - 1  # room for the vertical scrollbar
        if width <= 0:
            return
        keys = PANEL_COLUMNS[self.status]
        if self.host_of is not None:
            keys = (keys[0], "host", *keys[1:])
        layout = fit_columns(keys, width)
        if layout == self._layout and not force:
            return
        current = self.cursor_job_id
        self._layout = layout
        self.clear(columns=True)
        self._rows = {}
        for key, col_width in layout.widths:
            self.add_column(COLUMNS[key].label, width=col_width, key=key)
        self.sync(self._order, self._now, self._usage)
        if current is not None and current in self.jobs:
            self.move_cursor(row=self.get_row_index(current), scroll=False)

    # -- navigation across panels -----------------------------------------------------------

    def action_cursor_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1:
            self._move_to_panel(+1)
        else:
            super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.cursor_row <= 0:
            self._move_to_panel(-1)
        else:
            super().action_cursor_up()

    def _move_to_panel(self, step: int) -> None:
        """Up/down past the edge of a panel continues in the next visible one."""
        panels = [t for t in self.screen.query(JobTable) if t.display and t.row_count]
        index = panels.index(self) + step if self in panels else -1
        if 0 <= index < len(panels):
            target = panels[index]
            target.move_cursor(row=0 if step > 0 else target.row_count - 1)
            target.focus()
