"""The ``jobcore`` commands: each reads its arguments, calls the library, prints.

stdout carries only what scripts consume (the job id of ``run``, tables, JSON); everything
for humans goes to stderr. Errors are raised as JobcoreError and printed by ``cli.main``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jobcore import fmt, limits
from jobcore.errors import JobcoreError, UsageError
from jobcore.models import BatchSpec, Job, JobStatus, QueueSpec, iso
from jobcore.paths import ENV_JOB_ID, StateDir, resolve_home
from jobcore.store import Store

if TYPE_CHECKING:
    from pathlib import Path

    from jobcore.items import ItemRecord
    from jobcore.logs import Follower
    from jobcore.redact import Redactor

MAX_COUNT = 2**63 - 1
"""The largest count SQLite stores (a signed 64-bit integer)."""
RECENT_FINISHED = 20
"""``ls`` without ``--all`` shows every active or paused job and this many finished ones."""


class Context:
    """What every command needs: the state folder and an open store, opened on first use."""

    def __init__(self, home: str | None, create: bool = True) -> None:
        self._home = home
        self._create = create
        """Whether a missing state folder is made (writing commands) or refused (reading)."""
        self._state: StateDir | None = None
        self._store: Store | None = None

    @property
    def state(self) -> StateDir:
        if self._state is None:
            self._state = resolve_home(self._home, self._create)
        return self._state

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.state)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _emit_json(data: Any) -> None:
    """JSON on stdout: indented for a person at a terminal, one compact line for a program.

    json's C encoder only works without ``indent``: indenting 10,000 jobs took 0.5 s of an
    ``ls --json`` whose reader is almost always jq or a script. One write: json.dump to a
    stream makes a write call per token.
    """
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(data, indent=indent, ensure_ascii=False) + "\n")


def _parse_env(pairs: Sequence[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or "\0" in pair or not key.replace("_", "a").isalnum():
            raise UsageError(f"--env expects NAME=VALUE, got {pair!r}")
        env[key] = value
    return env


def _reconciled(ctx: Context) -> Store:
    """The store after the liveness check every reading command makes (which also starts a
    dispatcher if jobs wait and none runs: after a reboot, any command gets the queue going)."""
    from jobcore.dispatch import check

    check(ctx.store)
    return ctx.store


def _batch_from_args(
    args: argparse.Namespace, command: list[str]
) -> tuple[BatchSpec | None, list[str]]:
    """The batch options of ``run`` checked and read, with the items of ``--each``."""
    batch_flags = [f for f in ("parallel", "retries", "backoff", "call") if getattr(args, f)]
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
    from jobcore.items import read_items

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
    )
    return spec, items


def _queue_from_args(args: argparse.Namespace, store: Store) -> QueueSpec:
    """``--group``, ``--priority``, ``--after``, ``--delay``/``--at`` checked and read."""
    from jobcore.durations import parse_clock, parse_duration

    if args.delay and args.at:
        raise UsageError("give --delay or --at, not both")
    not_before = None
    if args.delay:
        not_before = time.time() + limits.seconds("--delay", parse_duration(args.delay))
    elif args.at:
        not_before = parse_clock(args.at)
    limits.in_range("--priority", args.priority, -limits.MAX_PRIORITY - 1, limits.MAX_PRIORITY)
    after = tuple(
        store.resolve(dep).id for value in args.after for dep in value.split(",") if dep.strip()
    )
    return QueueSpec(args.group, args.priority, after, not_before)


def cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.launcher import launch

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    batch, items = _batch_from_args(args, command)
    queue = _queue_from_args(args, ctx.store)
    job = launch(
        ctx.state,
        ctx.store,
        command,
        cwd=args.cwd,
        env=_parse_env(args.env),
        name=args.name,
        batch=batch,
        items=items,
        queue=queue,
        on_done=args.on_done,
        redact=[n for value in args.redact_env for n in value.split(",") if n],
    )
    print(job.id)
    if not args.quiet:
        from jobcore.estimate import expected_total, from_history

        print(
            f"started job {job.id}: watch it with `jobcore attach {job.id}` or `jobtui`",
            file=sys.stderr,
        )
        estimate = from_history(ctx.store, job.name, exclude=job.id)
        if estimate is not None:
            print(
                f"earlier runs of {job.name!r} took about "
                f"{fmt.duration(expected_total(estimate, job.total))} "
                f"(median of {estimate.runs})",
                file=sys.stderr,
            )
    return _attach_until_end(ctx, job) if args.follow else 0


def _statuses(values: Sequence[str]) -> list[str]:
    """``--status a,b --status c`` as a checked list of status names."""
    wanted = [s.strip() for value in values for s in value.split(",") if s.strip()]
    for status in wanted:
        if status not in JobStatus.__members__.values():
            choices = ", ".join(s.value for s in JobStatus)
            raise UsageError(f"unknown status {status!r} (choose from {choices})")
    return wanted


def _select_jobs(store: Store, args: argparse.Namespace) -> list[Job]:
    if args.status:
        return store.list_jobs(_statuses(args.status))
    if args.all:
        return store.list_jobs()
    live = store.list_jobs([*(s.value for s in JobStatus if not s.is_final)])
    finished = store.list_jobs([s.value for s in JobStatus if s.is_final], limit=RECENT_FINISHED)
    return sorted([*live, *finished], key=lambda j: j.seq, reverse=True)


def _estimated_remaining(store: Store, job: Job, now: float) -> float | None:
    """Remaining time from earlier runs of the same name, for a running job with no rate."""
    if job.status is not JobStatus.RUNNING or job.eta_s is not None or not job.name:
        return None
    from jobcore.estimate import expected_remaining, from_history

    estimate = from_history(store, job.name, exclude=job.id)
    return None if estimate is None else expected_remaining(job, estimate, now)


def _waiting_note(job: Job) -> str | None:
    """What a queued job waits for, in words."""
    if job.waiting_on == "delay" and job.queue.not_before is not None:
        return "starts at " + time.strftime("%H:%M:%S", time.localtime(job.queue.not_before))
    if job.waiting_on == "deps":
        return "waiting for " + ", ".join(job.queue.after)
    if job.waiting_on == "slot":
        return f"waiting for a slot in {job.queue.group}"
    return None


def _note(job: Job) -> str | None:
    """Why a job is where it is: its reason, and when a self-paused job resumes."""
    if job.status is JobStatus.QUEUED:
        return _waiting_note(job)
    if job.status.is_active:
        return None
    if job.paused_until is not None:
        until = time.strftime("%H:%M", time.localtime(job.paused_until))
        return f"{job.reason}; paused until {until}"
    return job.reason


def cmd_ls(args: argparse.Namespace, ctx: Context) -> int:
    jobs = _select_jobs(_reconciled(ctx), args)
    if args.json:
        _emit_json([job.to_json() for job in jobs])
        return 0
    if not jobs:
        print("no jobs yet: start one with `jobcore run -- COMMAND`", file=sys.stderr)
        return 0
    now = time.time()
    headers = ["ID", "NAME", "STATUS", "PROGRESS", "RATE", "ETA", "ELAPSED", "COMMAND"]
    rows = []
    for job in jobs:
        row = fmt.job_row(job, now, _estimated_remaining(ctx.store, job, now))
        note = _note(job)
        if note:
            row[-1] = f"{row[-1]}  ({note})"
        rows.append(row)
    color = fmt.use_color()
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    print(fmt.table(headers, rows, color=color, width=width, status_col=2))
    return 0


def cmd_show(args: argparse.Namespace, ctx: Context) -> int:
    store = _reconciled(ctx)
    job = store.resolve(args.id)
    data = job.to_json()
    data["log"] = str(ctx.state.log_path(job.id))
    failed = []
    if job.is_batch:
        from jobcore.items import ItemBook, failures, shown

        data["items"] = {s.value: n for s, n in ItemBook(store, job.id).counts().items()}
        failed = _shown_records(ctx, failures(store, job.id))
        data["failed_items"] = [r.to_json() for r in failed]
    if args.json:
        data["samples"] = store.samples(job.id)
        _emit_json(data)
        return 0
    now = time.time()
    color = fmt.use_color()
    fields = [
        ("id", job.id),
        ("name", job.name or fmt.UNKNOWN),
        ("status", fmt.paint(job.status.value, fmt.STATUS_COLORS[job.status], color)),
        ("reason", job.reason or fmt.UNKNOWN),
        ("command", job.command_line),
        ("cwd", job.cwd),
        ("env", " ".join(f"{k}={v}" for k, v in job.masked_env.items()) or fmt.UNKNOWN),
        ("progress", fmt.progress(job.done, job.total)),
        ("errors", str(job.errors)),
        ("current item", job.current_item or fmt.UNKNOWN),
        ("rate", fmt.rate(job.rate)),
        ("eta", fmt.eta(job, _estimated_remaining(store, job, now))),
        ("elapsed", fmt.duration(job.elapsed(now))),
        ("created", data["created_at"] or fmt.UNKNOWN),
        ("started", data["started_at"] or fmt.UNKNOWN),
        ("finished", data["finished_at"] or fmt.UNKNOWN),
        ("exit code", fmt.UNKNOWN if job.exit_code is None else str(job.exit_code)),
        ("worker pid", str(job.worker.pid) if job.worker else fmt.UNKNOWN),
        ("log", data["log"]),
    ]
    if job.is_batch:
        fields.insert(8, ("items", ", ".join(f"{n} {s}" for s, n in data["items"].items())))
    for key, value in fields:
        print(f"{key:>12}  {value}")
    if failed:
        print("\nfailed items:")
        for record in failed:
            tries = f"{record.attempts} attempt{'' if record.attempts == 1 else 's'}"
            print(f"  {shown(record.item)}  ({tries}): {record.error}")
    return 0


def _shown_records(ctx: Context, records: list[ItemRecord]) -> list[ItemRecord]:
    """Item records as shown, each masked by its own job's Redactor."""
    from jobcore.launch_env import redactor_for
    from jobcore.redact import Redactor

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


def _write_text(data: bytes) -> None:
    """Log bytes to stdout; invalid UTF-8 is shown as U+FFFD rather than crashing."""
    sys.stdout.write(data.decode("utf-8", "replace"))
    sys.stdout.flush()


def _lines_json(job_id: str, data: bytes, item: str | None) -> dict[str, Any]:
    text = data.decode("utf-8", "replace")
    from jobcore.items import shown

    return {"id": job_id, "item": None if item is None else shown(item), "lines": text.splitlines()}


def cmd_logs(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.logs import Follower, tail

    store = ctx.store
    job = store.resolve(args.id)
    limits.in_range("-n", args.lines, 0, limits.MAX_COUNT)
    if args.json and args.follow:
        raise UsageError("--json prints what is there now; it does not go with -f")
    path = ctx.state.log_path(job.id)
    if args.item is not None:
        from jobcore.launch_env import redactor_for
        from jobcore.logs import item_lines, item_prefix

        # The log's prefix is the item as masked when it was written.
        shown = redactor_for(ctx.state, job).text(args.item)
        prefix = item_prefix(shown).encode("utf-8", "surrogateescape")
        lines = item_lines(path, prefix, args.lines)
        if args.json:
            _emit_json(_lines_json(job.id, b"".join(lines), shown))
        else:
            _write_text(b"".join(lines))
        return 0
    data, offset = tail(path, args.lines)
    if args.json:
        _emit_json(_lines_json(job.id, data, None))
        return 0
    if data:
        _write_text(data if data.endswith(b"\n") else data + b"\n")
    if not args.follow:
        return 0
    live = ctx.state.live_path(job.id) if sys.stdout.isatty() else None
    return _follow(store, job.id, Follower(path, offset), live)


def _follow(store: Store, job_id: str, follower: Follower, live: Path | None) -> int:
    """Print what the job appends until it ends (0) or the user presses Ctrl-C (130).

    With ``live`` (on a terminal), the line the command is rewriting, a progress bar, stays
    drawn under the output as if the command ran in the foreground; the log itself only gets
    a snapshot of it every few seconds.
    """
    from jobcore.live_line import read_live
    from jobcore.liveness import reconcile

    drawn: str | None = None

    def erase() -> None:
        nonlocal drawn
        if drawn is not None:
            sys.stdout.write(fmt.ERASE_LINE)
            drawn = None

    try:
        while True:
            chunk = follower.read_new()
            if chunk:
                erase()
                _write_text(chunk)
                continue
            reconcile(store)
            if not store.get(job_id).status.is_active:
                erase()
                while chunk := follower.read_new():
                    _write_text(chunk)
                sys.stdout.flush()
                return 0
            line = read_live(live) if live is not None else None
            if line != drawn:
                erase()
                if line is not None:  # cut to the width: a wrapped line cannot be erased
                    sys.stdout.write(line[: shutil.get_terminal_size().columns - 1])
                drawn = line
                sys.stdout.flush()
            time.sleep(0.1)
    except KeyboardInterrupt:
        if drawn is not None:
            sys.stdout.write("\n")
        return 130


def _attach_until_end(ctx: Context, job: Job) -> int:
    """Show the job live: 0 if it completed, 1 if not, 130 when the user detaches."""
    from jobcore.attach import attach

    try:
        status = attach(ctx.state, ctx.store, job)
    except KeyboardInterrupt:
        print(f"\ndetached; job {job.id} keeps running", file=sys.stderr)
        return 130
    return 0 if status is JobStatus.COMPLETED else 1


def cmd_attach(args: argparse.Namespace, ctx: Context) -> int:
    return _attach_until_end(ctx, _reconciled(ctx).resolve(args.id))


def _targets(args: argparse.Namespace, ctx: Context, statuses: Sequence[str]) -> list[Job]:
    """The job named by ID, or every job of ``--group`` in one of ``statuses``."""
    if (args.id is None) == (args.group is None):
        raise UsageError("name a job ID or a --group, one of the two")
    if args.id is not None:
        return [ctx.store.resolve(args.id)]
    from jobcore.queue import list_groups

    if args.group not in {g.name for g in list_groups(ctx.store)}:
        raise JobcoreError(f"no group {args.group!r}")
    jobs = _reconciled(ctx).list_jobs(statuses)
    return sorted((j for j in jobs if j.queue.group == args.group), key=lambda j: j.seq)


def cmd_stop(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.control import MAX_GRACE_S, stop

    if args.grace is not None and not 0 <= args.grace <= MAX_GRACE_S:
        raise UsageError(f"--grace expects seconds from 0 to {MAX_GRACE_S:.0f}")
    # Queued jobs first, so none of them takes a slot freed by stopping a running one.
    for job in sorted(_targets(args, ctx, ["queued", "running"]), key=lambda j: j.status.value):
        job = stop(ctx.store, job.id, args.grace)
        print(f"job {job.id} is {job.status.value}", file=sys.stderr)
    return 0


def cmd_kill(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.control import stop

    job = stop(ctx.store, ctx.store.resolve(args.id).id, kill=True)
    print(f"job {job.id} is {job.status.value} ({job.reason})", file=sys.stderr)
    return 0


def cmd_resume(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.control import resume

    for job in _targets(args, ctx, ["paused"]):
        job = resume(ctx.state, ctx.store, job.id, env_now=args.env_now)
        print(f"job {job.id} resumed", file=sys.stderr)
    return 0


def cmd_wait(args: argparse.Namespace, ctx: Context) -> int:
    """Exit 0 when every job completed, 1 when any did not, 124 on timeout."""
    if args.timeout is not None:
        limits.seconds("--timeout", args.timeout)
    store = _reconciled(ctx)
    if args.ids:
        ids = [store.resolve(i).id for i in args.ids]
    else:
        jobs = store.active_jobs()
        ids = [j.id for j in jobs if args.group is None or j.queue.group == args.group]
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    try:
        while True:
            jobs = [store.get(i) for i in ids]
            if not any(j.status.is_active for j in jobs):
                return 0 if all(j.status is JobStatus.COMPLETED for j in jobs) else 1
            if deadline is not None and time.monotonic() >= deadline:
                return 124
            time.sleep(0.1)
            _reconciled(ctx)
    except KeyboardInterrupt:
        return 130


def cmd_group(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.queue import add_group, list_groups, set_group

    if args.action != "ls" and not args.name:
        raise UsageError(f"group {args.action} needs a NAME")
    if args.action == "add":
        add_group(ctx.store, args.name, args.parallel)
        return 0
    if args.action == "set":
        set_group(ctx.store, args.name, args.parallel)
        from jobcore import dispatch

        dispatch.start_waiting(ctx.state, ctx.store)  # a raised limit starts jobs at once
        dispatch.wake(ctx.state, ctx.store)
        return 0
    groups = list_groups(_reconciled(ctx))
    if args.json:
        _emit_json([g.to_json() for g in groups])
        return 0
    rows = [[g.name, str(g.parallel or "unlimited"), str(g.running), str(g.queued)] for g in groups]
    print(fmt.table(["GROUP", "PARALLEL", "RUNNING", "QUEUED"], rows, color=fmt.use_color()))
    return 0


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
        from jobcore.launch_env import redactor_for

        mask = redactor_for(ctx.state, job)
    if args.item is not None:
        args.item = mask.text(args.item)
    log_fd = None if args.error is None else _open_log(ctx.state, job_id)
    try:
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
    from jobcore.paths import open_private

    return open_private(state.log_path(job_id), os.O_WRONLY | os.O_APPEND, state.root)


def cmd_retry(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.control import retry

    job = ctx.store.resolve(args.id)
    changed = retry(ctx.state, ctx.store, job.id, args.item, env_now=args.env_now)
    what = f"{changed} item(s)" if job.is_batch else "the job"
    print(f"retrying {what} of job {job.id}", file=sys.stderr)
    return 0


def cmd_failures(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.items import failures, forget_failures, shown

    store = _reconciled(ctx)
    if args.forget or args.forget_all:
        job_id = store.resolve(args.forget).id if args.forget else None
        forgotten = forget_failures(store, job_id)
        print(f"forgot {forgotten} failed item(s)", file=sys.stderr)
        return 0
    job_id = store.resolve(args.id).id if args.id else None
    records = _shown_records(ctx, failures(store, job_id))
    if args.json:
        _emit_json([r.to_json() for r in records])
        return 0
    if not records:
        print("no failed items", file=sys.stderr)
        return 0
    rows = [
        [
            iso(r.finished_at) or fmt.UNKNOWN,
            r.job_id,
            shown(r.item),
            str(r.attempts),
            r.error or fmt.UNKNOWN,
        ]
        for r in records
    ]
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    headers = ["TIME", "JOB", "ITEM", "ATTEMPTS", "ERROR"]
    print(fmt.table(headers, rows, color=fmt.use_color(), width=width))
    return 0


def cmd_clean(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.durations import parse_duration
    from jobcore.housekeeping import DEFAULT_STATUSES, clean

    statuses = [JobStatus(s) for s in _statuses(args.status)] if args.status else DEFAULT_STATUSES
    older = None
    if args.older_than:
        older = limits.seconds("--older-than", parse_duration(args.older_than))
    if args.keep is not None:
        limits.in_range("--keep", args.keep, 0, limits.MAX_COUNT)
    removed = clean(
        ctx.state,
        ctx.store,
        statuses=statuses,
        keep=args.keep,
        older_than=older,
        dry_run=args.dry_run,
    )
    if args.json:
        _emit_json([job.to_json() for job in removed])
        return 0
    verb = "would remove" if args.dry_run else "removed"
    for job in removed:
        print(f"{verb} {job.id}  {job.status.value:<9}  {job.label}", file=sys.stderr)
    print(f"{verb} {len(removed)} job(s)", file=sys.stderr)
    return 0


def cmd_events(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.events import history

    store = _reconciled(ctx)
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
        _emit_json([e.to_json() for e in events])
        return 0
    rows = [[iso(e.t) or "", e.job_id, e.kind, e.actor, e.reason or ""] for e in events]
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    print(
        fmt.table(
            ["TIME", "JOB", "EVENT", "BY", "REASON"], rows, color=fmt.use_color(), width=width
        )
    )
    return 0


def cmd_config(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore import config

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
        _emit_json(values)
        return 0
    for name, key in config.KEYS.items():
        print(f"{name} = {json.dumps(values[name])}    # {key.help}")
    return 0


def cmd_doctor(args: argparse.Namespace, ctx: Context) -> int:
    """Exit 0 when all is well (or all was fixed), 1 when something is (still) wrong."""
    from jobcore.doctor import UNFIXABLE, examine

    findings = examine(ctx.state, ctx.store, fix=args.fix)
    if args.json:
        _emit_json([f.to_json() for f in findings])
    else:
        from jobcore.cgroup import tracking

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
