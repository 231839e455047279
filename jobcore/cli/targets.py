"""The jobs a many-job verb acts on (ids, ``--group`` or ``--all``) and acting on each in turn."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from jobcore.base.errors import JobcoreError, UsageError
from jobcore.cli.context import Context, reconciled
from jobcore.state.models import Job, JobStatus

APPLIES_TO: dict[str, tuple[JobStatus, ...]] = {
    "stop": (JobStatus.QUEUED, JobStatus.RUNNING),
    "kill": (JobStatus.QUEUED, JobStatus.RUNNING),
    "resume": (JobStatus.PAUSED,),
    "hold": (JobStatus.QUEUED,),
    "release": (JobStatus.QUEUED,),
    "start": (JobStatus.QUEUED,),
    "retry": (JobStatus.FAILED,),
    "rm": (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED),
    "restart": (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED),
}
"""The jobs each many-job verb takes with ``--group`` or ``--all`` (and offers to complete)."""


def check_group(ctx: Context, name: str) -> None:
    """Refuse a ``--group`` that names no group."""
    from jobcore.state.queue import list_groups

    if name not in {g.name for g in list_groups(ctx.store)}:
        raise JobcoreError(f"no group {name!r}")


def targets(args: argparse.Namespace, ctx: Context) -> list[Job | JobcoreError]:
    """The jobs a many-job verb acts on: the ids given (an id that names no job stays its
    error, reported in its turn), or every job it applies to, of ``--group`` or ``--all``."""
    chosen = [bool(args.ids), args.group is not None, args.all]
    if sum(chosen) != 1:
        raise UsageError("name job IDs, a --group or --all, one of the three")
    if args.ids:
        found: list[Job | JobcoreError] = []
        for given in args.ids:
            try:
                found.append(ctx.store.resolve(given))
            except JobcoreError as exc:
                found.append(exc)
        return found
    if args.group is not None:
        check_group(ctx, args.group)
    jobs = reconciled(ctx).list_jobs([s.value for s in APPLIES_TO[args.cmd]])
    if args.group is not None:
        jobs = [j for j in jobs if j.queue.group == args.group]
    if args.cmd == "release":
        jobs = [j for j in jobs if j.queue.held]
    elif args.cmd == "hold":
        jobs = [j for j in jobs if not j.queue.held and j.worker is None]
    jobs.sort(key=lambda j: j.seq)
    ordered: list[Job | JobcoreError] = [*jobs]
    return ordered


def confirmed(args: argparse.Namespace, jobs: Sequence[Job | JobcoreError]) -> bool:
    """``--all`` on kill/stop asks first at a terminal, unless ``-y``."""
    if not args.all or args.yes or not sys.stdin.isatty() or not jobs:
        return True
    print(f"{args.cmd} all {len(jobs)} active job(s)? [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        return sys.stdin.readline().strip().lower() in ("y", "yes")
    except KeyboardInterrupt:
        return False


def each(
    args: argparse.Namespace,
    ctx: Context,
    act: Callable[[Job], str],
    chosen: Sequence[Job | JobcoreError] | None = None,
) -> int:
    """Run ``act`` on every target, one line each on stderr: 0 if all went well, else the
    exit code of the worst error (2 for an ambiguous id, 1 otherwise)."""
    chosen = targets(args, ctx) if chosen is None else chosen
    if not chosen:
        where = f" in group {args.group}" if args.group is not None else ""
        print(f"no job to {args.cmd}{where}", file=sys.stderr)
        return 0
    code = 0
    for target in chosen:
        try:
            if isinstance(target, JobcoreError):
                raise target
            print(act(target), file=sys.stderr)
        except JobcoreError as exc:
            print(f"jobcore: error: {exc}", file=sys.stderr)
            code = max(code, exc.exit_code)
    return code


def queued_first(chosen: list[Job | JobcoreError]) -> list[Job | JobcoreError]:
    """Queued jobs before running ones, so none takes a slot freed by stopping another."""
    return sorted(chosen, key=lambda t: isinstance(t, Job) and t.status is JobStatus.RUNNING)
