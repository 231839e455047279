"""The verbs that read the state: ``ls``, ``show``, ``failures`` and ``events``."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from jobcore.base.errors import JobcoreError, UsageError
from jobcore.cli.args import statuses
from jobcore.cli.context import Context, reconciled
from jobcore.cli.options_read import RECENT_FINISHED
from jobcore.cli.output import emit_json, table_width
from jobcore.cli.render import events_table, failures_table, show_lines
from jobcore.cli.targets import check_group
from jobcore.state.models import FINAL_STATUSES, Job, JobStatus
from jobcore.state.queue import place_in_line
from jobcore.state.store import Store
from jobcore.view import fmt
from jobcore.view.job_table import jobs_table

if TYPE_CHECKING:
    from jobcore.state.items import ItemRecord


def _select_jobs(store: Store, args: argparse.Namespace) -> list[Job]:
    if args.group is not None:
        return [j for j in _select_all_groups(store, args) if j.queue.group == args.group]
    return _select_all_groups(store, args)


def _select_all_groups(store: Store, args: argparse.Namespace) -> list[Job]:
    if args.status:
        return store.list_jobs(statuses(args.status))
    if args.all or args.group is not None:
        return store.list_jobs()
    live = store.list_jobs([*(s.value for s in JobStatus if not s.is_final)])
    finished = store.list_jobs([s.value for s in JobStatus if s.is_final], limit=RECENT_FINISHED)
    return sorted([*live, *finished], key=lambda j: j.seq, reverse=True)


def _hidden_count(store: Store, args: argparse.Namespace) -> int:
    """How many finished jobs a plain ``ls`` leaves out (``-a`` shows them)."""
    if args.all or args.status or args.group is not None:
        return 0
    return max(0, store.count_jobs(FINAL_STATUSES) - RECENT_FINISHED)


def _estimated_remaining(store: Store, job: Job, now: float) -> float | None:
    """Remaining time from earlier runs of the same name, for a running job with no rate."""
    if job.status is not JobStatus.RUNNING or job.eta_s is not None or not job.name:
        return None
    from jobcore.state.estimate import expected_remaining, from_history

    estimate = from_history(store, job.name, exclude=job.id)
    return None if estimate is None else expected_remaining(job, estimate, now)


def cmd_ls(args: argparse.Namespace, ctx: Context) -> int:
    if args.watch or args.heartbeat is not None:
        if not (args.json and args.watch) or args.all or args.status or args.group is not None:
            raise UsageError("--watch goes with --json only (--heartbeat with --watch)")
        from jobcore.ops import watch_stream

        return watch_stream.run(reconciled(ctx), args.heartbeat)
    if args.group is not None:
        check_group(ctx, args.group)
    store = reconciled(ctx)
    if args.json and (args.all or args.status) and args.group is None:
        # One query and no Job objects: ls --json --all of 10,000 jobs is a script's poll.
        wanted = statuses(args.status) if args.status else None
        if sys.stdout.isatty():
            emit_json(store.list_json(wanted))
        else:  # written as text row by row (docs/decisions/0025-json-text-row-by-row.md)
            sys.stdout.write(store.list_json_text(wanted))
            sys.stdout.write("\n")  # not `+ "\n"`: that copies megabytes once more
        return 0
    jobs = _select_jobs(store, args)
    if args.json:
        emit_json([job.to_json() for job in jobs])
        return 0
    if not jobs:
        print("no jobs yet: start one with `jobcore run -- COMMAND`", file=sys.stderr)
        return 0
    now = time.time()
    grouped = store.has_groups()
    estimate = lambda job: _estimated_remaining(store, job, now)  # noqa: E731
    print(jobs_table(jobs, estimate, now, grouped, color=fmt.use_color(), width=table_width()))
    if hidden := _hidden_count(store, args):
        print(f"{hidden} older jobs hidden (-a)", file=sys.stderr)
    return 0


def cmd_show(args: argparse.Namespace, ctx: Context) -> int:
    store = reconciled(ctx)
    job = store.resolve(args.id)
    data = job.to_json()
    data["log"] = str(ctx.state.log_path(job.id))
    failed: list[ItemRecord] = []
    in_flight: list[ItemRecord] = []
    if job.is_batch:
        from jobcore.state.items import ItemBook, failures, running

        data["items"] = {s.value: n for s, n in ItemBook(store, job.id).counts().items()}
        failed = _shown_records(ctx, failures(store, job.id))
        data["failed_items"] = [r.to_json() for r in failed]
        in_flight = _shown_records(ctx, running(store, job.id)) if job.status.is_active else []
        data["running_items"] = [r.to_json() for r in in_flight]
    data["position"] = place_in_line(store, job.id)
    if job.spec.get("cluster"):
        from jobcore.state.cluster import where_items_run

        data["cluster"] = where_items_run(ctx.state, job)
    if args.json:
        data["samples"] = store.samples(job.id)
        emit_json(data)
        return 0
    after = [f"{dep} ({store.status_of(dep)})" for dep in job.queue.after]
    estimated = _estimated_remaining(store, job, time.time())
    for line in show_lines(job, data, after, estimated, in_flight, failed):
        print(line)
    return 0


def _shown_records(ctx: Context, records: list[ItemRecord]) -> list[ItemRecord]:
    """Item records as shown, each masked by its own job's Redactor."""
    from jobcore.base.redact import Redactor
    from jobcore.state.launch_env import redactor_for

    redactors: dict[str, Redactor] = {}
    shown = []
    for record in records:
        if record.job_id not in redactors:
            try:
                redactors[record.job_id] = redactor_for(ctx.state, ctx.store.get(record.job_id))
            except JobcoreError:
                redactors[record.job_id] = Redactor()
        shown.append(record.shown(redactors[record.job_id]))
    return shown


def cmd_failures(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.state.items import (
        ItemRecord,
        failed_job_json,
        failed_jobs,
        failures,
        forget_failures,
    )

    store = reconciled(ctx)
    if args.forget or args.forget_all:
        job_id = store.resolve(args.forget).id if args.forget else None
        forgotten = forget_failures(store, job_id)
        print(f"forgot {forgotten} failure(s)", file=sys.stderr)
        return 0
    job_id = store.resolve(args.id).id if args.id else None
    records = _shown_records(ctx, failures(store, job_id))
    jobs = failed_jobs(store, job_id)
    # One list, newest first: failed items of batches and failed one-command jobs.
    entries: list[tuple[float, ItemRecord | Job]] = [(r.finished_at or 0.0, r) for r in records]
    entries += [(j.finished_at or 0.0, j) for j in jobs]
    entries.sort(key=lambda entry: entry[0], reverse=True)
    if args.json:
        emit_json(
            [e.to_json() if isinstance(e, ItemRecord) else failed_job_json(e) for _, e in entries]
        )
        return 0
    if not entries:
        print("no failures", file=sys.stderr)
        return 0
    print(failures_table(entries))
    return 0


def cmd_events(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.state.events import history

    store = reconciled(ctx)
    job_id = None
    if args.id:
        try:
            job_id = store.resolve(args.id).id
        except JobcoreError:
            job_id = args.id  # a cleaned job keeps its history
    events = history(store, job_id)
    if job_id is not None and not events:
        raise JobcoreError(f"no job with id {args.id!r} and no history for it")
    if args.json:
        emit_json([e.to_json() for e in events])
        return 0
    print(events_table(events))
    return 0
