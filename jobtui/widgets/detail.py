"""The selected job in full: command, folder, times, exit code, a rate sparkline, its log."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Sparkline, Static

from jobcore.state.models import Job, JobStatus
from jobcore.view import fmt
from jobcore.view.screen_text import screen_text
from jobtui.columns import one_line
from jobtui.widgets.log_tail import LogTail
from jobtui.widgets.palette import Palette


def rates(samples: list[tuple[float, int]]) -> list[float]:
    """Items per second between consecutive (time, done) samples."""
    return [
        max(0.0, (d1 - d0) / (t1 - t0))
        for (t0, d0), (t1, d1) in itertools.pairwise(samples)
        if t1 > t0
    ]


def clock_time(ts: float | None) -> str:
    """Local wall-clock time of ``ts``."""
    if ts is None:
        return fmt.UNKNOWN
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def describe(
    job: Job,
    now: float,
    palette: Palette,
    failed: Sequence[tuple[str, int, str]] = (),
    running: Sequence[tuple[str, str]] = (),
    cluster: str | None = None,
) -> Table:
    """The facts about a job as a two-column grid, then where a cluster batch's items run,
    its running items with their own progress, and its failed items last."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style=palette.muted, justify="right", no_wrap=True, min_width=7)
    grid.add_column(overflow="ellipsis", no_wrap=True)
    head = Text.assemble(
        (job.id, "bold"),
        "  ",
        (job.status.value, palette.status[job.status]),
        "  ",
        fmt.progress(job.done, job.total),
    )
    if job.status is JobStatus.RUNNING:
        head.append(f"  {fmt.rate(job.rate)}  ETA {fmt.duration(job.eta_s)}")
    grid.add_row("job", head)
    grid.add_row("command", Text(one_line(job.command_line)))
    grid.add_row("cwd", Text(job.cwd))
    times = (
        f"started {clock_time(job.started_at)}  finished {clock_time(job.finished_at)}  "
        f"elapsed {fmt.duration(job.elapsed(now))}  "
        f"exit {fmt.UNKNOWN if job.exit_code is None else job.exit_code}"
    )
    grid.add_row("times", times)
    if job.reason:
        reason = one_line(job.reason)
        grid.add_row("reason", Text(reason, style=palette.status[JobStatus.FAILED]))
    elif job.current_item:
        grid.add_row("item", Text(one_line(job.current_item)))
    if cluster is not None:
        grid.add_row("cluster", Text(one_line(cluster)))
    for index, (item, progress) in enumerate(running):
        line = Text.assemble((one_line(item), "bold"), "  ", one_line(progress))
        grid.add_row("running" if index == 0 else "", line)
    for index, (item, attempts, error) in enumerate(failed):
        line = Text.assemble((one_line(item), "bold"), f" ({attempts}×) ", one_line(error))
        grid.add_row("failed" if index == 0 else "", line)
    return grid


class DetailPane(Vertical):
    """Shows one job; the app feeds it and tells its log tail what to follow."""

    _live: str | None = None
    _title = ""
    """The border title shown."""
    _rows = -1
    """Rows of facts shown (their height)."""

    def compose(self) -> ComposeResult:
        yield Static(id="detail-info")
        with Horizontal(id="detail-rate-row"):
            yield Label("rate", id="detail-rate-label")
            yield Sparkline([], id="detail-rate")
        yield LogTail(id="detail-log")
        yield Static(id="detail-live")

    def show(
        self,
        job: Job,
        now: float,
        samples: list[tuple[float, int]],
        palette: Palette,
        failed: list[tuple[str, int, str]] | None = None,
        running: list[tuple[str, str]] | None = None,
        cluster: str | None = None,
    ) -> None:
        title = f"{job.id} · {one_line(job.label)}"
        if title != self._title:  # setting it repaints the whole pane, log and all
            self._title = title
            self.border_title = title
        info = describe(job, now, palette, failed or [], running or [], cluster)
        # A layout pass only when its height may have changed (rows came or went): once a
        # second for a running job, that pass was most of what the open detail cost.
        rows = len(info.rows)
        self.query_one("#detail-info", Static).update(info, layout=rows != self._rows)
        self._rows = rows
        self.query_one("#detail-rate", Sparkline).data = rates(samples)

    def show_live(self, line: str | None) -> None:
        """The line the command is rewriting now (a progress bar), below its log's last line."""
        if line == self._live:
            return  # an unchanged line is not redrawn (modest traffic over SSH)
        self._live = line
        live = self.query_one("#detail-live", Static)
        live.display = line is not None
        # As written, spaces and colours kept (a bar's padding is part of its shape); no other
        # control sequence reaches the screen.
        text = Text.from_ansi(screen_text(line or ""), no_wrap=True, overflow="ellipsis", end="")
        live.update(text)
