"""The verbs that make work: ``run`` launches a job; ``progress`` reports from inside one."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from jobcore.base import limits
from jobcore.base.errors import JobcoreError, UsageError
from jobcore.cli.args import launch_dir, parse_env, queue_from_args
from jobcore.cli.context import Context
from jobcore.state.models import BatchSpec, Job
from jobcore.state.paths import ENV_JOB_ID, StateDir

if TYPE_CHECKING:
    import argparse

MAX_COUNT = 2**63 - 1
"""The largest count SQLite stores (a signed 64-bit integer)."""


def _batch_from_args(
    args: argparse.Namespace, command: list[str]
) -> tuple[BatchSpec | None, list[str]]:
    """The batch options of ``run`` checked and read, with the items of ``--each``."""
    batch_flags = [
        f for f in ("parallel", "retries", "backoff", "call", "cluster") if getattr(args, f)
    ]
    if args.processes:
        batch_flags.append("processes")
    if args.each is None:
        if batch_flags:
            raise UsageError(f"--{batch_flags[0]} needs --each FILE")
        return None, []
    limits.check_batch(args.parallel, args.retries, args.backoff)
    if args.call and command:
        raise UsageError("give either --call TARGET or a command, not both")
    if args.processes and not args.call:
        raise UsageError("--processes goes with --call")
    from jobcore.base.addresses import check_address
    from jobcore.state.items import read_items

    try:
        if args.each == "-":
            items = read_items(sys.stdin.buffer, "-")
        else:
            with open(args.each, "rb") as fh:
                items = read_items(fh, args.each)
    except OSError as exc:
        raise JobcoreError(f"cannot read --each {args.each}: {exc.strerror}") from exc
    if not items:
        raise JobcoreError(f"--each {args.each} has no items (one per non-empty line)")
    spec = BatchSpec(
        parallel=1 if args.parallel is None else args.parallel,
        retries=args.retries or 0,
        backoff=1.0 if args.backoff is None else args.backoff,
        call=args.call,
        processes=args.processes,
        cluster=None if args.cluster is None else check_address(args.cluster),
    )
    return spec, items


def launch_line(
    args: argparse.Namespace,
    ctx: Context,
    *,
    here: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Job:
    """Launch what a ``run`` line asks, as typed in ``here`` with ``environ`` (default: this
    process's folder and environment; the dispatcher gives those of a line handed to it)."""
    from jobcore.ops.launcher import launch
    from jobcore.state import launch_env

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    cwd = launch_dir(args.cwd, here)
    batch, items = _batch_from_args(args, command)
    queue = queue_from_args(args, ctx.store)
    return launch(
        ctx.state,
        ctx.store,
        command,
        cwd=cwd,
        env=parse_env(args.env),
        name=args.name,
        batch=batch,
        items=items,
        queue=queue,
        on_done=args.on_done,
        redact=[n for value in args.redact_env for n in value.split(",") if n],
        launched_env=None if environ is None else launch_env.current(environ),
        token=getattr(args, "launch_token", None),
    )


def report_launch(args: argparse.Namespace, ctx: Context, job: Job) -> None:
    """What ``run`` prints: the id on stdout; on stderr how to watch it, and how long its
    earlier runs took."""
    print(job.id)
    if not args.quiet and args.hold:
        print(f"job {job.id} is held: `jobcore release {job.id}` lets it start", file=sys.stderr)
    elif not args.quiet:
        from jobcore.state.estimate import expected_total, from_history
        from jobcore.view import fmt

        print(
            f"started job {job.id}: watch it with `jobcore attach {job.id}` or `jobtui`",
            file=sys.stderr,
        )
        estimate = from_history(ctx.store, job.name, exclude=job.id)
        if estimate is not None:
            print(
                f"earlier runs of {job.name!r} took about "
                f"{fmt.duration(expected_total(estimate, job.total, BatchSpec.of(job).parallel))} "
                f"(median of {estimate.runs})",
                file=sys.stderr,
            )


def cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.dispatch import keep_warm

    previous = ctx.store.last_created()
    job = launch_line(args, ctx)
    report_launch(args, ctx, job)
    keep_warm(ctx.state, previous, job)
    if not args.follow:
        return 0
    from jobcore.cli.verbs_watch import attach_until_end

    return attach_until_end(ctx, job)


def cmd_progress(args: argparse.Namespace, ctx: Context) -> int:
    job_id = os.environ.get(ENV_JOB_ID)
    if not job_id:
        raise JobcoreError(
            f"jobcore progress reports for the job it runs in, and ${ENV_JOB_ID} is not set"
        )
    if args.done is not None and args.advance is not None:
        raise UsageError("give --done or --advance, not both")
    for flag in ("total", "done", "advance"):
        value = getattr(args, flag)
        if value is not None and not 0 <= value <= MAX_COUNT:
            raise UsageError(f"--{flag} expects a number from 0 to {MAX_COUNT}")
    store = ctx.store
    job = store.get(job_id)
    if args.item is not None or args.error is not None:
        from jobcore.state.launch_env import redactor_for

        mask = redactor_for(ctx.state, job)
    if args.item is not None:
        args.item = mask.text(args.item)
    log_fd = None if args.error is None else _open_log(ctx.state, job_id)
    from jobcore.base import current_item

    idx = current_item.index()
    try:
        if idx is not None:  # inside a batch item: the item's own progress
            store.record_item_progress(
                job_id,
                idx,
                done=args.done,
                advance=args.advance or 0,
                total=args.total,
                note=args.item,
            )
        else:
            store.record_progress(
                job_id,
                done=args.done,
                advance=args.advance or 0,
                total=args.total,
                item=args.item,
                errors=1 if args.error is not None else 0,
            )
        if log_fd is not None:
            line = f"jobcore: error: {args.error}\n".encode("utf-8", "surrogateescape")
            os.write(log_fd, mask(line))
    finally:
        if log_fd is not None:
            os.close(log_fd)
    return 0


def _open_log(state: StateDir, job_id: str) -> int:
    """A job's log opened for appending, refused if it (or its folder) is a symlink."""
    from jobcore.state.paths import open_private

    return open_private(state.log_path(job_id), os.O_WRONLY | os.O_APPEND, state.root)
