"""What the reading verbs print for people: the job table, ``show``'s fields, the failures,
events and groups tables, and why waited-for jobs did not complete."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from jobcore.cli.output import table_width
from jobcore.state.models import Job, JobStatus, iso
from jobcore.view import fmt
from jobcore.view.job_table import waiting_note, when

if TYPE_CHECKING:
    from jobcore.state.events import Event
    from jobcore.state.items import ItemRecord
    from jobcore.state.queue import Group


def show_lines(
    job: Job,
    data: dict[str, Any],
    after: Sequence[str],
    estimated: float | None,
    running: Sequence[ItemRecord],
    failed: Sequence[ItemRecord],
) -> Iterator[str]:
    """``show``'s lines: a field per line, then the running and failed items of a batch.

    ``data`` is the job's JSON with ``log``, ``position`` and a batch's ``items`` counts;
    ``after`` its dependencies, each with its status.
    """
    from jobcore.state.items import shown

    now = time.time()
    color = fmt.use_color()
    fields = [
        ("id", job.id),
        ("name", job.name or fmt.UNKNOWN),
        ("status", fmt.paint(job.status.value, fmt.STATUS_COLORS[job.status], color)),
        ("reason", job.reason or fmt.UNKNOWN),
        ("group", job.queue.group),
        ("priority", str(job.queue.priority)),
        ("in line", fmt.UNKNOWN if data["position"] is None else f"#{data['position']}"),
        ("waits for", (waiting_note(job) if job.status is JobStatus.QUEUED else None) or "-"),
        ("after", ", ".join(after) or fmt.UNKNOWN),
        ("not before", when(job.queue.not_before)),
        ("command", job.command_line),
        ("cwd", job.cwd),
        ("env", " ".join(f"{k}={v}" for k, v in job.masked_env.items()) or fmt.UNKNOWN),
        ("progress", fmt.progress(job.done, job.total)),
        ("errors", str(job.errors)),
        ("current item", job.current_item or fmt.UNKNOWN),
        ("rate", fmt.rate(job.rate) if job.status is JobStatus.RUNNING else fmt.UNKNOWN),
        ("eta", fmt.eta(job, estimated)),
        ("elapsed", fmt.duration(job.elapsed(now))),
        ("created", when(job.created_at)),
        ("started", when(job.started_at)),
        ("finished", when(job.finished_at)),
        ("exit code", fmt.UNKNOWN if job.exit_code is None else str(job.exit_code)),
        ("worker pid", str(job.worker.pid) if job.worker else fmt.UNKNOWN),
        ("log", data["log"]),
    ]
    if job.is_batch:
        fields.insert(14, ("items", ", ".join(f"{n} {s}" for s, n in data["items"].items())))
    if "cluster" in data:
        from jobcore.state.cluster import describe

        fields.insert(15, ("cluster", describe(data["cluster"])))
    for key, value in fields:
        yield f"{key:>12}  {value}"
    if running:
        yield "\nrunning items:"
        for record in running:
            yield f"  {fmt.item_progress(record)}"
    if failed:
        yield "\nfailed items:"
        for record in failed:
            tries = f"{record.attempts} attempt{'' if record.attempts == 1 else 's'}"
            yield f"  {shown(record.item)}  ({tries}): {record.error}"


def failures_table(entries: Sequence[tuple[float, ItemRecord | Job]]) -> str:
    """``failures``'s table: failed items of batches and failed one-command jobs, as given."""
    from jobcore.state.items import ItemRecord, shown

    rows = [
        [
            iso(at) or fmt.UNKNOWN,
            e.job_id,
            shown(e.item),
            str(e.attempts),
            e.error or fmt.UNKNOWN,
        ]
        if isinstance(e, ItemRecord)
        else [iso(at) or fmt.UNKNOWN, e.id, e.label, fmt.UNKNOWN, e.reason or fmt.UNKNOWN]
        for at, e in entries
    ]
    headers = ["TIME", "JOB", "ITEM", "ATTEMPTS", "ERROR"]
    return fmt.table(headers, rows, color=fmt.use_color(), width=table_width())


def events_table(events: Sequence[Event]) -> str:
    """``events``'s table: what happened to which job, when, and who did it."""
    rows = [[iso(e.t) or "", e.job_id, e.kind, e.actor, e.reason or ""] for e in events]
    return fmt.table(
        ["TIME", "JOB", "EVENT", "BY", "REASON"], rows, color=fmt.use_color(), width=table_width()
    )


def groups_table(groups: Sequence[Group]) -> str:
    """``group ls``'s table: each group's limit and how many of its jobs run and wait."""
    rows = [
        [
            g.name + (" (paused)" if g.paused else ""),
            str(g.parallel or "unlimited"),
            str(g.running),
            str(g.queued),
        ]
        for g in groups
    ]
    return fmt.table(["GROUP", "PARALLEL", "RUNNING", "QUEUED"], rows, color=fmt.use_color())


def unfinished_lines(jobs: Sequence[Job]) -> Iterator[str]:
    """A line per job that did not complete, saying why (cancelled is its own)."""
    for job in jobs:
        if job.status is JobStatus.COMPLETED:
            continue
        if job.status.is_active:
            what = f"is still {job.status.value}"
        elif job.status is JobStatus.CANCELLED:
            what = "was cancelled before it started"
        else:
            what = f"did not complete: {job.status.value}"
            if job.reason:
                what += f" ({job.reason})"
        yield f"job {job.id} {what}  {job.label}"
