"""Human formats shared by the CLI and the dashboard: durations, counts, rates, tables."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from jobcore.state.models import Job, JobStatus

if TYPE_CHECKING:
    from jobcore.state.items import ItemRecord

UNKNOWN = "-"
ERASE_LINE = "\r\x1b[K"
"""Back to the start of the line and clear it, to redraw a status line in place."""

STATUS_COLORS = {
    JobStatus.QUEUED: "36",  # cyan
    JobStatus.RUNNING: "34;1",  # bold blue
    JobStatus.PAUSED: "33",  # yellow
    JobStatus.COMPLETED: "32",  # green
    JobStatus.FAILED: "31;1",  # bold red
    JobStatus.CANCELLED: "90",  # grey: not a failure
}


def duration(seconds: float | None) -> str:
    """``45s``, ``3m 10s``, ``1h 05m``, ``2d 03h``; ``-`` when unknown."""
    if seconds is None:
        return UNKNOWN
    s = round(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def progress(done: int, total: int | None) -> str:
    """``12/50 (24%)``; a bare count when the total is unknown; ``-`` before any progress.

    The percentage is rounded down: 199 of 200 is 99 %, never 100 % while anything is left,
    and nothing of nothing (``0/0``) is 0 %.
    """
    if total is None:
        return str(done) if done else UNKNOWN
    pct = min(done, total) * 100 // total if total else 0
    return f"{done}/{total} ({pct}%)"


def item_progress(record: ItemRecord) -> str:
    """A running item and its own progress: ``part-A.csv  45/100 (45%)  rows``."""
    from jobcore.state.items import shown

    parts = [shown(record.item)]
    if record.progress_done is not None:
        parts.append(progress(record.progress_done, record.progress_total))
    if record.progress_note:
        parts.append(record.progress_note)
    return "  ".join(parts)


def rate(per_second: float | None) -> str:
    """Items per second, or per minute/hour when slow; ``-`` when unknown."""
    if per_second is None:
        return UNKNOWN
    if per_second >= 1 or per_second == 0:
        return f"{per_second:.1f}/s" if per_second < 100 else f"{per_second:.0f}/s"
    if per_second * 60 >= 1:
        return f"{per_second * 60:.1f}/min"
    return f"{per_second * 3600:.1f}/h"


def use_color(stream: TextIO = sys.stdout) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def paint(text: str, code: str | None, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color and code else text


def eta(job: Job, estimated: float | None) -> str:
    """The job's own ETA; else ``~`` and the estimate from history; ``-`` when neither."""
    if job.status is not JobStatus.RUNNING:
        return UNKNOWN
    if job.eta_s is not None:
        return duration(job.eta_s)
    return UNKNOWN if estimated is None else "~" + duration(estimated)


def job_row(job: Job, now: float, estimated: float | None = None) -> list[str]:
    """The cells of a job in ``ls``: id, name, status, progress, rate, ETA, elapsed, command.

    ``estimated`` is the remaining time expected from earlier runs, used until the job has a
    rate of its own.
    """
    return [
        job.id,
        job.name or UNKNOWN,
        job.status.value,
        progress(job.done, job.total),
        rate(job.rate) if job.status is JobStatus.RUNNING else UNKNOWN,
        eta(job, estimated),
        duration(job.elapsed(now)),
        job.command_line,
    ]


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    color: bool,
    width: int | None = None,
    status_col: int | None = None,
) -> str:
    """Left-aligned columns; the last column is cut to ``width`` so rows never wrap."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = []
    for index, cells in enumerate([list(headers), *map(list, rows)]):
        padded = [c.ljust(w) for c, w in zip(cells[:-1], widths[:-1], strict=True)]
        line = "  ".join([*padded, cells[-1]])
        if width is not None and len(line) > width:
            line = line[: max(0, width - 1)] + "…"
        if color:
            if index == 0:
                line = paint(line, "1", color)
            elif status_col is not None:
                status = cells[status_col]
                code = STATUS_COLORS.get(JobStatus(status))
                line = line.replace(
                    status.ljust(widths[status_col]),
                    paint(status.ljust(widths[status_col]), code, color),
                    1,
                )
        lines.append(line.rstrip())
    return "\n".join(lines)
