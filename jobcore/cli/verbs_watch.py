"""The verbs that watch a job's output or end: ``logs`` (``-f``), ``attach`` and ``wait``."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from jobcore.base import limits
from jobcore.base.errors import JobcoreError, UsageError
from jobcore.cli.context import Context, reconciled
from jobcore.cli.follow import follow_log, poll
from jobcore.cli.output import emit_json, write_text
from jobcore.cli.render import unfinished_lines
from jobcore.state.models import Job, JobStatus


def _lines_json(job_id: str, data: bytes, item: str | None) -> dict[str, Any]:
    text = data.decode("utf-8", "replace")
    from jobcore.state.items import shown

    return {"id": job_id, "item": None if item is None else shown(item), "lines": text.splitlines()}


def cmd_logs(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.state.logs import Follower, tail

    store = ctx.store
    job = store.resolve(args.id)
    limits.in_range("-n", args.lines, 0, limits.MAX_COUNT)
    if args.json and args.follow:
        raise UsageError("--json prints what is there now; it does not go with -f")
    if args.item is not None:
        return _item_logs(args, ctx, job)
    path = ctx.state.log_path(job.id)
    data, offset = tail(path, args.lines)
    if args.json:
        emit_json(_lines_json(job.id, data, None))
        return 0
    if data:
        write_text(data if data.endswith(b"\n") or args.raw else data + b"\n", args.raw)
    if not args.follow:
        return 0
    live = ctx.state.live_path(job.id) if sys.stdout.isatty() and not args.raw else None
    return follow_log(store, job.id, Follower(path, offset), live, args.raw)


def _item_logs(args: argparse.Namespace, ctx: Context, job: Job) -> int:
    """``logs --item``: the last lines of one item of a batch (every run of it)."""
    from jobcore.state.items import item_indexes
    from jobcore.state.launch_env import redactor_for
    from jobcore.state.logs import item_lines, item_prefix

    found = item_indexes(ctx.store, job.id, args.item)
    if not found:
        raise JobcoreError(f"no item {args.item!r} in job {job.id}")
    # The log's prefix is the item as masked when it was written.
    shown = redactor_for(ctx.state, job).text(args.item)
    prefixes = tuple(
        item_prefix(args.item, idx, shown).encode("utf-8", "surrogateescape") for idx in found
    )
    lines = item_lines(ctx.state.log_path(job.id), prefixes, args.lines)
    if args.json:
        emit_json(_lines_json(job.id, b"".join(lines), shown))
    else:
        write_text(b"".join(lines), args.raw)
    return 0


def attach_until_end(ctx: Context, job: Job) -> int:
    """Show the job live: 0 if it completed, 1 if not, 130 when the user detaches."""
    from jobcore.cli.attach import attach

    try:
        status = attach(ctx.state, ctx.store, job)
    except KeyboardInterrupt:
        print(f"\ndetached; job {job.id} keeps running", file=sys.stderr)
        return 130
    return 0 if status is JobStatus.COMPLETED else 1


def cmd_attach(args: argparse.Namespace, ctx: Context) -> int:
    return attach_until_end(ctx, reconciled(ctx).resolve(args.id))


def cmd_wait(args: argparse.Namespace, ctx: Context) -> int:
    """Exit 0 when every job completed, 1 when any did not, 124 on timeout.

    ``--all`` watches the whole queue: a job queued while it waits is waited for too, so
    ``jobcore wait --all && ./publish.sh`` cannot publish early.
    """
    if args.timeout is not None:
        limits.seconds("--timeout", args.timeout)
    if args.ids and (args.all or args.group is not None):
        raise UsageError("name job IDs, or wait for --all or a --group, not both")
    store = reconciled(ctx)

    def active_now() -> list[str]:
        return [
            j.id for j in store.active_jobs() if args.group is None or j.queue.group == args.group
        ]

    ids = list(dict.fromkeys(store.resolve(i).id for i in args.ids)) or active_now()
    if args.all and not args.quiet:
        print(f"waiting for {len(ids)} job(s) and any queued meanwhile", file=sys.stderr)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout

    def ended() -> int | None:
        """The exit code once every job ended or time ran out, else None."""
        if args.all:
            ids.extend([i for i in active_now() if i not in ids])
        jobs = [store.get(i) for i in ids]
        if not any(j.status.is_active for j in jobs):
            code = 0 if all(j.status is JobStatus.COMPLETED for j in jobs) else 1
        elif deadline is not None and time.monotonic() >= deadline:
            code = 124
        else:
            return None
        if not args.quiet:
            for line in unfinished_lines(jobs):
                print(line, file=sys.stderr)
        return code

    try:
        return poll(ended, lambda: reconciled(ctx), 0.1)
    except KeyboardInterrupt:
        return 130
