"""Option values several verbs read, checked and turned into what the library takes."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from jobcore.base import limits
from jobcore.base.errors import JobcoreError, UsageError
from jobcore.state.models import JobStatus, QueueSpec
from jobcore.state.store import Store

if TYPE_CHECKING:
    import argparse


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    """``--env NAME=VALUE`` pairs as a dict; a malformed one is a usage error."""
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or "\0" in pair or not key.replace("_", "a").isalnum():
            raise UsageError(f"--env expects NAME=VALUE, got {pair!r}")
        env[key] = value
    return env


def statuses(values: Sequence[str]) -> list[str]:
    """``--status a,b --status c`` as a checked list of status names."""
    wanted = [s.strip() for value in values for s in value.split(",") if s.strip()]
    for status in wanted:
        if status not in JobStatus.__members__.values():
            choices = ", ".join(s.value for s in JobStatus)
            raise UsageError(f"unknown status {status!r} (choose from {choices})")
    return wanted


def queue_from_args(args: argparse.Namespace, store: Store) -> QueueSpec:
    """``--group``, ``--priority``, ``--after``, ``--delay``/``--at`` checked and read."""
    if args.delay and args.at:
        raise UsageError("give --delay or --at, not both")
    not_before = None
    if args.delay:
        from jobcore.base.durations import parse_duration

        not_before = time.time() + limits.seconds("--delay", parse_duration(args.delay))
    elif args.at:
        from jobcore.base.durations import parse_clock

        not_before = parse_clock(args.at)
    limits.in_range("--priority", args.priority, -limits.MAX_PRIORITY - 1, limits.MAX_PRIORITY)
    after = tuple(
        store.resolve(dep).id for value in args.after for dep in value.split(",") if dep.strip()
    )
    return QueueSpec(args.group, args.priority, after, not_before, getattr(args, "hold", False))


def launch_dir(given: str | None, here: str | None = None) -> str:
    """``--cwd`` made absolute, else the current directory (``here``: the one the line was
    typed in), which may have been deleted under the shell (a rebuilt checkout): said in
    words, not as a FileNotFoundError."""
    if given is not None and os.path.isabs(given):
        return given
    try:
        here = here or os.getcwd()
    except FileNotFoundError:
        raise JobcoreError("the current directory no longer exists; use --cwd") from None
    return os.path.join(here, given) if given is not None else here
