"""How jobs read in a table: a job's note (why it is where it is), times, and ``ls``'s table,
shared by the CLI and the demo."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from jobcore.state.models import Job, JobStatus
from jobcore.view import fmt


def one_line(text: str) -> str:
    """A multi-line text (a ``sh -c`` script) on one line of a table: each line break as ⏎."""
    if "\n" not in text and "\r" not in text:
        return text
    return " ⏎ ".join(part.strip() for part in text.splitlines() if part.strip())


def when(ts: float | None) -> str:
    """A time as people read it: the clock alone today, with the date on any other day."""
    if ts is None:
        return fmt.UNKNOWN
    day = time.strftime("%Y-%m-%d", time.localtime(ts))
    clock_time = time.strftime("%H:%M:%S", time.localtime(ts))
    return clock_time if day == time.strftime("%Y-%m-%d") else f"{day} {clock_time}"


def waiting_note(job: Job) -> str | None:
    """What a queued job waits for, in words."""
    if job.waiting_on == "delay" and job.queue.not_before is not None:
        return "starts at " + when(job.queue.not_before)
    if job.waiting_on == "deps":
        return "waiting for " + ", ".join(job.queue.after)
    if job.waiting_on == "paused":
        return f"group {job.queue.group} is paused"
    if job.waiting_on == "held":
        return f"held: `jobcore release {job.id}`"
    if job.waiting_on == "slot":
        return f"waiting for a slot in {job.queue.group}"
    return None


def note(job: Job) -> str | None:
    """Why a job is where it is: its reason, and when a self-paused job resumes."""
    if job.status is JobStatus.QUEUED:
        return waiting_note(job)
    if job.status.is_active:
        return None
    if job.paused_until is not None:
        until = time.strftime("%H:%M", time.localtime(job.paused_until))
        return f"{job.reason}; paused until {until}"
    return job.reason


def jobs_table(
    jobs: Sequence[Job],
    estimate: Callable[[Job], float | None],
    now: float,
    grouped: bool,
    *,
    color: bool,
    width: int | None,
) -> str:
    """``ls``'s table (and the demo's without a terminal); ``estimate`` gives a job's
    remaining time from history, ``grouped`` adds the GROUP column (once there is a group
    besides the default one)."""
    headers = ["ID", "NAME", "STATUS", "PROGRESS", "RATE", "ETA", "ELAPSED", "REASON", "COMMAND"]
    rows = []
    for job in jobs:
        row = fmt.job_row(job, now, estimate(job))
        row.insert(-1, note(job) or "")
        row = [one_line(cell) for cell in row]
        if grouped:
            row.insert(1, job.queue.group)
        rows.append(row)
    if grouped:
        headers.insert(1, "GROUP")
    status_col = 3 if grouped else 2
    return fmt.table(headers, rows, color=color, width=width, status_col=status_col)
