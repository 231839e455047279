"""The verbs that act on jobs: stop, kill, resume, hold, release, start, retry, restart, rm,
edit."""

from __future__ import annotations

import argparse
import os
import sys

from jobcore.base.errors import UsageError
from jobcore.cli.args import launch_dir, queue_from_args
from jobcore.cli.context import Context, reconciled
from jobcore.cli.targets import confirmed, each, queued_first, targets
from jobcore.state.models import Job, JobStatus
from jobcore.view.job_table import waiting_note


def cmd_stop(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.control import MAX_GRACE_S, stop

    if args.grace is not None and not 0 <= args.grace <= MAX_GRACE_S:
        raise UsageError(f"--grace expects seconds from 0 to {MAX_GRACE_S:.0f}")
    chosen = targets(args, ctx)
    if not confirmed(args, chosen):
        print("nothing stopped", file=sys.stderr)
        return 1

    def act(job: Job) -> str:
        job = stop(ctx.store, job.id, args.grace)
        return f"job {job.id} is {job.status.value}"

    return each(args, ctx, act, queued_first(chosen))


def cmd_kill(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.control import stop

    chosen = targets(args, ctx)
    if not confirmed(args, chosen):
        print("nothing killed", file=sys.stderr)
        return 1

    def act(job: Job) -> str:
        job = stop(ctx.store, job.id, kill=True)
        return f"job {job.id} is {job.status.value} ({job.reason})"

    return each(args, ctx, act, queued_first(chosen))


def cmd_resume(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.control import resume

    def act(job: Job) -> str:
        resume(ctx.state, ctx.store, job.id, env_now=args.env_now)
        return f"job {job.id} resumed"

    return each(args, ctx, act)


def cmd_hold(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.dispatch import hold

    def act(job: Job) -> str:
        hold(ctx.store, job.id)
        return f"job {job.id} held: `jobcore release {job.id}` lets it start"

    return each(args, ctx, act)


def cmd_release(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.dispatch import release

    def act(job: Job) -> str:
        release(ctx.state, ctx.store, job.id)
        return f"job {job.id} released"

    return each(args, ctx, act)


def cmd_start(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.dispatch import start_now

    def act(job: Job) -> str:
        start_now(ctx.state, ctx.store, job.id, force=args.force)
        job = ctx.store.get(job.id)
        if job.status is JobStatus.QUEUED and job.waiting_on is not None:
            return f"job {job.id} is next in line: {waiting_note(job) or job.waiting_on}"
        return f"job {job.id} started"

    return each(args, ctx, act)


def cmd_retry(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.control import retry

    if args.item and len(args.ids) != 1:
        raise UsageError("--item goes with one job ID")

    def act(job: Job) -> str:
        changed = retry(ctx.state, ctx.store, job.id, args.item, env_now=args.env_now)
        what = f"{changed} item(s)" if job.is_batch else "the job"
        return f"retrying {what} of job {job.id}"

    return each(args, ctx, act)


def cmd_restart(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.restart import restart

    def act(job: Job) -> str:
        new = restart(
            ctx.state, ctx.store, job.id, failed_only=args.failed_only, in_place=args.in_place
        )
        if new.id == job.id:
            return f"restarted job {job.id} in place"
        print(new.id)
        return f"restarted job {job.id} as {new.id}"

    return each(args, ctx, act)


def cmd_rm(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.control import remove

    def act(job: Job) -> str:
        job = remove(ctx.state, ctx.store, job.id, force=args.force)
        return f"removed {job.id}  {job.status.value:<9}  {job.label}"

    return each(args, ctx, act)


def cmd_edit(args: argparse.Namespace, ctx: Context) -> int:
    import shlex

    from jobcore.ops.edit import Changes, changes_from_env_args, edit, edit_in_editor, editable

    store = reconciled(ctx)
    job = store.resolve(args.id)
    editable(job)
    given = [args.command, args.cwd, args.name, args.priority, args.after, args.delay, args.at]
    if all(v is None for v in given) and not args.env and not args.unset_env:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        edited = edit_in_editor(ctx.state, store, job, shlex.split(editor))
        if edited is None:
            print(f"job {job.id} unchanged (the form was emptied)", file=sys.stderr)
            return 0
        print(f"job {job.id} edited", file=sys.stderr)
        return 0
    command = None
    if args.command is not None:
        try:
            command = shlex.split(args.command)
        except ValueError as exc:
            raise UsageError(f"--command: {exc}") from None
    not_before = None
    if args.delay is not None or args.at is not None:
        queue = queue_from_args(
            argparse.Namespace(
                delay=args.delay, at=args.at, priority=0, after=[], group=job.queue.group
            ),
            store,
        )
        not_before = queue.not_before
    changes = Changes(
        command=command,
        cwd=None if args.cwd is None else launch_dir(args.cwd),
        name=args.name,
        priority=args.priority,
        env=changes_from_env_args(job, args.env, args.unset_env),
        after=None
        if args.after is None
        else tuple(d for value in args.after for d in value.split(",") if d.strip()),
        not_before=not_before,
        clear_not_before=args.delay in ("0", "0s"),
    )
    edit(ctx.state, store, job.id, changes)
    print(f"job {job.id} edited", file=sys.stderr)
    return 0
