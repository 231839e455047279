"""``jobcore group``: queue groups, their parallel limits, pausing and resuming them."""

from __future__ import annotations

import argparse
import sys

from jobcore.cli.context import Context, reconciled
from jobcore.cli.output import emit_json
from jobcore.cli.render import groups_table
from jobcore.cli.targets import each
from jobcore.state.models import Job


def cmd_group(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.state.queue import add_group, list_groups, remove_group, set_group

    if args.action == "rm":
        remove_group(ctx.store, args.name)
        print(f"removed group {args.name}", file=sys.stderr)
        return 0
    if args.action == "add":
        add_group(ctx.store, args.name, args.parallel)
        return 0
    if args.action in ("pause", "resume"):
        return _pause_group(args, ctx)
    if args.action == "set":
        set_group(ctx.store, args.name, args.parallel)
        from jobcore.ops import dispatch

        dispatch.start_waiting(ctx.state, ctx.store)  # a raised limit starts jobs at once
        dispatch.wake(ctx.state, ctx.store)
        return 0
    groups = list_groups(reconciled(ctx))
    if args.json:
        emit_json([g.to_json() for g in groups])
        return 0
    print(groups_table(groups))
    return 0


def _pause_group(args: argparse.Namespace, ctx: Context) -> int:
    """``group pause [--now]`` and ``group resume``: paused first, so no job stopped by
    ``--now`` hands its slot to the next in line."""
    from jobcore.ops import dispatch
    from jobcore.state.queue import pause_group

    pause_group(ctx.store, args.name, args.action == "pause")
    dispatch.start_waiting(ctx.state, ctx.store)  # resumed: start now; paused: say so in ls
    dispatch.wake(ctx.state, ctx.store)
    print(f"group {args.name} {args.action}d", file=sys.stderr)
    if not args.now:
        return 0
    from jobcore.ops.control import stop

    def act(job: Job) -> str:
        job = stop(ctx.store, job.id)
        return f"job {job.id} is {job.status.value}"

    running = [j for j in reconciled(ctx).list_jobs(["running"]) if j.queue.group == args.name]
    if not running:
        return 0
    running.sort(key=lambda j: j.seq)
    code = each(args, ctx, act, running)
    print(f"`jobcore resume --group {args.name}` queues them again", file=sys.stderr)
    return code
