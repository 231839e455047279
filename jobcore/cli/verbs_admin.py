"""The verbs that keep the house: ``clean``, ``config``, ``doctor`` and ``completion``."""

from __future__ import annotations

import argparse
import json
import sys

from jobcore.base import limits
from jobcore.base.errors import UsageError
from jobcore.cli.args import statuses
from jobcore.cli.context import Context
from jobcore.cli.output import emit_json
from jobcore.state.models import JobStatus


def cmd_clean(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.base.durations import parse_duration
    from jobcore.ops.housekeeping import DEFAULT_STATUSES, clean

    chosen = [JobStatus(s) for s in statuses(args.status)] if args.status else DEFAULT_STATUSES
    older = None
    if args.older_than:
        older = limits.seconds("--older-than", parse_duration(args.older_than))
    if args.keep is not None:
        limits.in_range("--keep", args.keep, 0, limits.MAX_COUNT)
    removed = clean(
        ctx.state,
        ctx.store,
        statuses=chosen,
        keep=args.keep,
        older_than=older,
        dry_run=args.dry_run,
    )
    if args.json:
        emit_json([job.to_json() for job in removed])
        return 0
    verb = "would remove" if args.dry_run else "removed"
    for job in removed:
        print(f"{verb} {job.id}  {job.status.value:<9}  {job.label}", file=sys.stderr)
    print(f"{verb} {len(removed)} job(s)", file=sys.stderr)
    return 0


def cmd_config(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.state import config

    if args.action == "set":
        if not args.key or args.value is None:
            raise UsageError("config set needs a KEY and a VALUE")
        config.set_value(ctx.state, args.key, args.value)
        return 0
    if args.action == "unset":
        if not args.key:
            raise UsageError("config unset needs a KEY")
        config.set_value(ctx.state, args.key, None)
        return 0
    values = config.load(ctx.state)
    if args.action == "get":
        if args.key not in config.KEYS:
            raise UsageError(f"unknown config key {args.key!r} (known: {', '.join(config.KEYS)})")
        value = values[args.key]
        print(json.dumps(value) if args.json else ("" if value is None else value))
        return 0
    if args.json:
        emit_json(values)
        return 0
    for name, key in config.KEYS.items():
        print(f"{name} = {json.dumps(values[name])}    # {key.help}")
    return 0


def cmd_doctor(args: argparse.Namespace, ctx: Context) -> int:
    """Exit 0 when all is well (or all was fixed), 1 when something is (still) wrong."""
    from jobcore.ops.doctor import UNFIXABLE, examine

    findings = examine(ctx.state, ctx.store, fix=args.fix)
    if args.json:
        emit_json([f.to_json() for f in findings])
    else:
        from jobcore.procs.cgroup import tracking

        print(f"process tracking: {tracking().describe()}", file=sys.stderr)
        for f in findings:
            mark = "fixed" if f.fixed else "found"
            print(f"{mark:>5}  {f.kind:<14} {f.detail}", file=sys.stderr)
        if not findings:
            print("all is well", file=sys.stderr)
        elif not args.fix and any(f.kind not in UNFIXABLE for f in findings):
            print("run `jobcore doctor --fix` to repair", file=sys.stderr)
    return 1 if any(not f.fixed for f in findings) else 0


def cmd_completion(args: argparse.Namespace, ctx: Context) -> int:
    import argcomplete

    sys.stdout.write(argcomplete.shellcode(["jobcore"], shell=args.shell))
    return 0
