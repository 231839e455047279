"""The job lists' columns: decided once per terminal width and shared by every panel.

Every panel draws the same columns at the same offsets, so the dashboard reads as one table.
What a status does not need makes room for what it does: a running row has RATE, ETA, CPU,
MEM and ITEM; a queued, paused, failed or cancelled row writes what it waits for or why it
stopped across that same stretch (the NOTE), so a reason is as wide as all of them together.

Adding a column is one line in ``COLUMNS`` (plus, if its value is new, a field of
``jobtui.model.JobRow``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from jobcore.state.models import JobStatus
from jobcore.view import fmt
from jobcore.view.screen_text import plain_text
from jobtui.model import ColumnNeeds, JobRow
from jobtui.widgets.palette import Palette

BAR_MIN = 5
BAR_MAX = 12
NAME_FIRST = 16
"""A name this long is kept whole before columns of lower priority are added (from 70
cells on: below, a failed job's reason needs the room more)."""
GROUP_MAX = 17
"""The widest GROUP cell (a group's name and `` paused``)."""
HOST_MAX = 20
"""The widest HOST cell (a host's name, and ``offline 2m`` while it is)."""
PERCENT_WIDTH = 4
"""`` 42%``, ``100%``: the percentage is drawn before the counts, so it is never cut."""


def one_line(value: str) -> str:
    """Newlines and runs of spaces (``sh -c`` scripts) as single spaces: rows stay one line;
    no escape sequence from a command's output acts on the screen."""
    return " ".join(plain_text(value).split())


def _text(value: str | None, style: Style | str = "") -> Text:
    """User data as plain text: a name with ``[brackets]`` is not Rich markup."""
    return Text(one_line(value or ""), style=style, no_wrap=True, overflow="ellipsis")


@dataclass(frozen=True)
class CellContext:
    """What a cell needs beside its row: the clock, the colours, the progress bar's width."""

    now: float
    palette: Palette
    bar: int
    counts: int
    """Width of the ``done/total`` part of the progress column (0: not shown)."""


def _size(rss: int) -> str:
    value = float(rss)
    for unit in ("B", "K", "M", "G"):
        if value < 1024 or unit == "G":
            return f"{value:.0f}{unit}" if unit in ("B", "K") else f"{value:.1f}{unit}"
        value /= 1024
    return fmt.UNKNOWN


def progress_text(done: int, total: int | None, bar: int, counts: int, palette: Palette) -> Text:
    """``━━━━━╸━━━  42% 212/500``: bar, percentage, counts (the counts go first when narrow:
    the percentage is never cut)."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if total is None:
        if bar:
            text.append(" " * (bar + 1))
        if counts:
            text.append(" " * (PERCENT_WIDTH + 1))
        text.append(str(done) if done else fmt.UNKNOWN, palette.muted if not done else "")
        return text
    fraction = 0.0 if total <= 0 else min(1.0, done / total)  # as the %: 0 of 0 is 0 %
    if bar:
        full, half = divmod(round(fraction * bar * 2), 2)
        text.append("━" * full, palette.bar)
        if half:
            text.append("╸", palette.bar)
        if bar - full - half:
            text.append("━" * (bar - full - half), palette.bar_back)
        text.append(" ")
    pct = min(done, total) * 100 // total if total else 0
    text.append(f"{pct:3d}%")
    if counts:
        counts_text = f"{done}/{total}"
        text.append(" ")
        text.append(counts_text if len(counts_text) <= counts else counts_text[: counts - 1] + "…")
    return text


def _status(row: JobRow, ctx: CellContext) -> Text:
    return Text(row.status_label, style=ctx.palette.status[row.job.status])


def _group(row: JobRow, ctx: CellContext) -> Text:
    group = row.job.queue.group
    if row.group_paused:
        return Text(f"{group} paused", style=ctx.palette.status[JobStatus.PAUSED])
    return _text(group)


def _usage(row: JobRow, what: str) -> Text:
    if row.usage is None:
        return Text(fmt.UNKNOWN)
    return Text(f"{row.usage.cpu_percent:.0f}%" if what == "cpu" else _size(row.usage.rss))


@dataclass(frozen=True)
class Column:
    """A column every panel shares."""

    key: str
    label: str
    width: int
    """Width it needs to be worth showing."""
    priority: int
    """Lower survives longer when the terminal is narrow."""
    cell: Callable[[JobRow, CellContext], Text] = field(compare=False)
    """The cell of a row."""
    live: bool = False
    """Part of the stretch a non-running row uses for its NOTE."""
    grow: int = 0
    """Extra width it takes when there is room."""


COLUMNS: tuple[Column, ...] = (
    Column("mark", "", 1, 0, lambda r, c: Text("●" if r.marked else " ")),
    Column("id", "ID", 5, 0, lambda r, c: Text(r.shown_id)),
    Column("host", "HOST", 5, 1, lambda r, c: _text(r.host)),
    Column("name", "NAME", 12, 1, lambda r, c: _text(r.job.label), grow=18),
    Column("status", "STATUS", 9, 7, _status),
    Column("group", "GROUP", 5, 8, _group),
    Column(
        "progress",
        "PROGRESS",
        10,
        2,
        lambda r, c: progress_text(r.job.done, r.job.total, c.bar, c.counts, c.palette),
    ),
    Column("elapsed", "ELAPSED", 7, 6, lambda r, c: Text(fmt.duration(r.job.elapsed(c.now)))),
    Column("rate", "RATE", 8, 4, lambda r, c: Text(fmt.rate(r.job.rate)), live=True),
    Column("eta", "ETA", 7, 3, lambda r, c: Text(fmt.duration(r.job.eta_s)), live=True),
    Column("cpu", "CPU", 4, 9, lambda r, c: _usage(r, "cpu"), live=True),
    Column("mem", "MEM", 6, 10, lambda r, c: _usage(r, "mem"), live=True),
    Column("item", "ITEM", 8, 5, lambda r, c: _text(r.job.current_item), live=True, grow=60),
)
"""Every column, in display order. The live ones (rate to item) are a running row's; any
other row writes its NOTE across them."""

NOTE_LABEL: dict[JobStatus, str] = {
    JobStatus.QUEUED: "WAITING FOR",
    JobStatus.PAUSED: "REASON",
    JobStatus.FAILED: "REASON",
    JobStatus.CANCELLED: "REASON",
    JobStatus.COMPLETED: "LAST ITEM",
}
"""The header over the NOTE stretch in each panel that is not the running one."""


@dataclass(frozen=True)
class Layout:
    """The columns that fit a width and their widths, for every panel alike."""

    columns: tuple[tuple[Column, int], ...]
    bar: int
    """Width of the progress bar inside the progress column (0: none)."""
    counts: int
    """Width of the ``done/total`` inside the progress column (0: narrow, not shown)."""
    gap: int
    """Blank cells between two columns."""

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(column.key for column, _ in self.columns)

    @cached_property
    def by_key(self) -> dict[str, Column]:
        return {column.key: column for column, _ in self.columns}


def plan(width: int, needs: ColumnNeeds) -> Layout:
    """Keep columns by priority while they fit, then share the rest out.

    The progress column holds the percentage and the counts the rows need, and the bar
    competes like a column of its own (so it outlives CPU and memory, even at 60 cells).
    """
    gap = 2 if width >= 100 else 1
    counts = max(3, needs.counts)
    shown = {"group": needs.groups, "host": needs.hosts}
    wanted = [c for c in COLUMNS if shown.get(c.key, True)]
    base = {c.key: c.width for c in wanted}
    base["progress"] = PERCENT_WIDTH
    base["name"] = max(base["name"], min(needs.name, NAME_FIRST if width >= 70 else 0))
    if needs.groups:  # a group is shown whole, or not at all
        base["group"] = max(base["group"], min(needs.group, GROUP_MAX))
    if needs.hosts:
        base["host"] = max(base["host"], min(needs.host, HOST_MAX))
    chosen: dict[str, int] = {}
    used = 0
    bar = 0
    for column in sorted(wanted, key=lambda c: c.priority):
        need = base[column.key] + (gap if chosen else 0)
        if used + need <= width:
            chosen[column.key] = base[column.key]
            used += need
        if column.key == "progress" and "progress" in chosen and used + BAR_MIN + 1 <= width:
            bar, used = BAR_MIN, used + BAR_MIN + 1
        if column.key == "item":  # the counts are worth less than the item, more than the rest
            if "progress" in chosen and used + counts + 1 <= width:
                chosen["progress"] += counts + 1
                used += counts + 1
            else:
                counts = 0
    spare = width - used
    wants = {"name": needs.name}

    def grow(key: str) -> None:
        nonlocal spare
        column = next(c for c in wanted if c.key == key)
        if key in chosen:
            target = min(wants.get(key, base[key] + column.grow), base[key] + column.grow)
            extra = max(0, min(target - chosen[key], spare))
            chosen[key] += extra
            spare -= extra

    grow("name")  # names are what people read: they grow first, then the bar
    grow_bar = min(BAR_MAX - bar, spare) if bar else 0
    bar, spare = bar + grow_bar, spare - grow_bar
    if "progress" in chosen:
        chosen["progress"] += bar + (1 if bar else 0)
    for column in wanted:
        if column.grow and column.key != "name":
            grow(column.key)
    columns = tuple((c, chosen[c.key]) for c in wanted if c.key in chosen)
    return Layout(columns, bar, counts, gap)


def _fit(text: Text, width: int) -> Text:
    text = text.copy()
    text.no_wrap = True
    text.truncate(width, overflow="ellipsis", pad=True)
    return text


@lru_cache(maxsize=64)
def spans(layout: Layout, running: bool) -> dict[str, tuple[int, int]]:
    """Where each cell of a row is drawn: key -> (x, width); ``note`` for a row that is not
    running, over the live columns."""
    out: dict[str, tuple[int, int]] = {}
    x = 0
    for column, width in layout.columns:
        if column.live and not running:
            if "note" in out:
                start, so_far = out["note"]
                out["note"] = (start, so_far + layout.gap + width)
            else:
                out["note"] = (x + (layout.gap if x else 0), width)
            x += width + (layout.gap if x else 0)
            continue
        x += layout.gap if x else 0
        out[column.key] = (x, width)
        x += width
    return out


def row_segments(row: JobRow, layout: Layout, ctx: CellContext, console: Console) -> list[Segment]:
    """One row as segments, every cell cut or padded to its column.

    A cell of one style (most of them) becomes one segment straight away; only a cell with
    several styles (the progress bar) goes through Rich's rendering.
    """
    running = row.job.status is JobStatus.RUNNING
    out: list[Segment] = []
    x = 0
    for key, (start, width) in spans(layout, running).items():
        if start > x:
            out.append(Segment(" " * (start - x)))
        if key == "note":
            value = _text(row.note, ctx.palette.muted)
        else:
            value = layout.by_key[key].cell(row, ctx)
        if row.offline:  # the last snapshot of a host that is offline: greyed
            value = Text(value.plain, style=ctx.palette.muted)
        out.extend(_cell(value, width, console))
        x = start + width
    return out


def _cell(text: Text, width: int, console: Console) -> list[Segment]:
    if text.spans:
        return list(_fit(text, width).render(console))
    # One style: one segment (``Text.render`` would drop a style that is not in a span).
    plain = text.plain
    length = cell_len(plain)
    plain = plain + " " * (width - length) if length <= width else _fit(text, width).plain
    style = console.get_style(text.style) if isinstance(text.style, str) else text.style
    return [Segment(plain, style or None)]


def header_text(layout: Layout, status: JobStatus, sort_key: str | None) -> Text:
    """A panel's column labels; the running panel names its live columns, others the NOTE."""
    labels = {column.key: column.label for column, _ in layout.columns}
    labels["note"] = NOTE_LABEL.get(status, "")
    line = Text(no_wrap=True, end="")
    for key, (x, width) in spans(layout, status is JobStatus.RUNNING).items():
        line.append(" " * (x - line.cell_len))
        label = labels[key] + (" ▾" if key == sort_key else "")
        line.append(label[:width].ljust(width))
    return line
