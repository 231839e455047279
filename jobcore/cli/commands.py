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
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from jobcore.base import limits
from jobcore.base.errors import JobcoreError, UsageError
from jobcore.state.models import BatchSpec, Job, JobStatus, QueueSpec, iso
from jobcore.state.paths import ENV_JOB_ID, StateDir, resolve_home
from jobcore.state.store import Store
from jobcore.view import fmt

if TYPE_CHECKING:
    from pathlib import Path

    from jobcore.base.redact import Redactor
    from jobcore.state.items import ItemRecord
    from jobcore.state.logs import Follower

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
    from jobcore.ops.dispatch import check

    check(ctx.store)
    return ctx.store


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


def _queue_from_args(args: argparse.Namespace, store: Store) -> QueueSpec:
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


def _launch_dir(given: str | None) -> str:
    """``--cwd`` made absolute, else the current directory, which may have been deleted
    under the shell (a rebuilt checkout): said in words, not as a FileNotFoundError."""
    if given is not None and os.path.isabs(given):
        return given
    try:
        here = os.getcwd()
    except FileNotFoundError:
        raise JobcoreError("the current directory no longer exists; use --cwd") from None
    return os.path.join(here, given) if given is not None else here


def cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.launcher import launch

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    cwd = _launch_dir(args.cwd)
    batch, items = _batch_from_args(args, command)
    queue = _queue_from_args(args, ctx.store)
    job = launch(
        ctx.state,
        ctx.store,
        command,
        cwd=cwd,
        env=_parse_env(args.env),
        name=args.name,
        batch=batch,
        items=items,
        queue=queue,
        on_done=args.on_done,
        redact=[n for value in args.redact_env for n in value.split(",") if n],
    )
    print(job.id)
    if not args.quiet and args.hold:
        print(f"job {job.id} is held: `jobcore release {job.id}` lets it start", file=sys.stderr)
    elif not args.quiet:
        from jobcore.state.estimate import expected_total, from_history

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
    if args.group is not None:
        return [j for j in _select_all_groups(store, args) if j.queue.group == args.group]
    return _select_all_groups(store, args)


def _select_all_groups(store: Store, args: argparse.Namespace) -> list[Job]:
    if args.status:
        return store.list_jobs(_statuses(args.status))
    if args.all or args.group is not None:
        return store.list_jobs()
    live = store.list_jobs([*(s.value for s in JobStatus if not s.is_final)])
    finished = store.list_jobs([s.value for s in JobStatus if s.is_final], limit=RECENT_FINISHED)
    return sorted([*live, *finished], key=lambda j: j.seq, reverse=True)


def _hidden_count(store: Store, args: argparse.Namespace) -> int:
    """How many finished jobs a plain ``ls`` leaves out (``-a`` shows them)."""
    if args.all or args.status or args.group is not None:
        return 0
    final = [s.value for s in JobStatus if s.is_final]
    row = store.conn.execute(
        f"SELECT COUNT(*) FROM jobs WHERE status IN ({','.join('?' * len(final))})", final
    ).fetchone()
    return max(0, row[0] - RECENT_FINISHED)


def one_line(text: str) -> str:
    """A multi-line text (a ``sh -c`` script) on one line of a table: each line break as ⏎."""
    if "\n" not in text and "\r" not in text:
        return text
    return " ⏎ ".join(part.strip() for part in text.splitlines() if part.strip())


def _estimated_remaining(store: Store, job: Job, now: float) -> float | None:
    """Remaining time from earlier runs of the same name, for a running job with no rate."""
    if job.status is not JobStatus.RUNNING or job.eta_s is not None or not job.name:
        return None
    from jobcore.state.estimate import expected_remaining, from_history

    estimate = from_history(store, job.name, exclude=job.id)
    return None if estimate is None else expected_remaining(job, estimate, now)


def _waiting_note(job: Job) -> str | None:
    """What a queued job waits for, in words."""
    if job.waiting_on == "delay" and job.queue.not_before is not None:
        return "starts at " + _when(job.queue.not_before)
    if job.waiting_on == "deps":
        return "waiting for " + ", ".join(job.queue.after)
    if job.waiting_on == "paused":
        return f"group {job.queue.group} is paused"
    if job.waiting_on == "held":
        return f"held: `jobcore release {job.id}`"
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
    if args.watch or args.heartbeat is not None:
        if not (args.json and args.watch) or args.all or args.status or args.group is not None:
            raise UsageError("--watch goes with --json only (--heartbeat with --watch)")
        from jobcore.ops import watch_stream

        return watch_stream.run(_reconciled(ctx), args.heartbeat)
    if args.group is not None:
        from jobcore.state.queue import list_groups

        if args.group not in {g.name for g in list_groups(ctx.store)}:
            raise JobcoreError(f"no group {args.group!r}")
    store = _reconciled(ctx)
    if args.json and (args.all or args.status) and args.group is None:
        # One query and no Job objects: ls --json --all of 10,000 jobs is a script's poll.
        _emit_json(store.list_json(_statuses(args.status) if args.status else None))
        return 0
    jobs = _select_jobs(store, args)
    if args.json:
        _emit_json([job.to_json() for job in jobs])
        return 0
    if not jobs:
        print("no jobs yet: start one with `jobcore run -- COMMAND`", file=sys.stderr)
        return 0
    now = time.time()
    grouped = ctx.store.conn.execute(
        "SELECT 1 FROM groups WHERE name != 'default' LIMIT 1"
    ).fetchone()
    headers = ["ID", "NAME", "STATUS", "PROGRESS", "RATE", "ETA", "ELAPSED", "REASON", "COMMAND"]
    rows = []
    for job in jobs:
        row = fmt.job_row(job, now, _estimated_remaining(ctx.store, job, now))
        row.insert(-1, _note(job) or "")
        row = [one_line(cell) for cell in row]
        if grouped:
            row.insert(1, job.queue.group)
        rows.append(row)
    if grouped:
        headers.insert(1, "GROUP")
    color = fmt.use_color()
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    print(fmt.table(headers, rows, color=color, width=width, status_col=3 if grouped else 2))
    if hidden := _hidden_count(ctx.store, args):
        print(f"{hidden} older jobs hidden (-a)", file=sys.stderr)
    return 0


def cmd_show(args: argparse.Namespace, ctx: Context) -> int:
    store = _reconciled(ctx)
    job = store.resolve(args.id)
    data = job.to_json()
    data["log"] = str(ctx.state.log_path(job.id))
    failed: list[ItemRecord] = []
    in_flight: list[ItemRecord] = []
    if job.is_batch:
        from jobcore.state.items import ItemBook, failures, running, shown

        data["items"] = {s.value: n for s, n in ItemBook(store, job.id).counts().items()}
        failed = _shown_records(ctx, failures(store, job.id))
        data["failed_items"] = [r.to_json() for r in failed]
        in_flight = _shown_records(ctx, running(store, job.id)) if job.status.is_active else []
        data["running_items"] = [r.to_json() for r in in_flight]
    data["position"] = _position(store, job)
    if job.spec.get("cluster"):
        from jobcore.state.cluster import where_items_run

        data["cluster"] = where_items_run(ctx.state, job)
    if args.json:
        data["samples"] = store.samples(job.id)
        _emit_json(data)
        return 0
    now = time.time()
    color = fmt.use_color()
    after = [f"{dep} ({_status_of(store, dep)})" for dep in job.queue.after]
    fields = [
        ("id", job.id),
        ("name", job.name or fmt.UNKNOWN),
        ("status", fmt.paint(job.status.value, fmt.STATUS_COLORS[job.status], color)),
        ("reason", job.reason or fmt.UNKNOWN),
        ("group", job.queue.group),
        ("priority", str(job.queue.priority)),
        ("in line", fmt.UNKNOWN if data["position"] is None else f"#{data['position']}"),
        ("waits for", (_waiting_note(job) if job.status is JobStatus.QUEUED else None) or "-"),
        ("after", ", ".join(after) or fmt.UNKNOWN),
        ("not before", _when(job.queue.not_before)),
        ("command", job.command_line),
        ("cwd", job.cwd),
        ("env", " ".join(f"{k}={v}" for k, v in job.masked_env.items()) or fmt.UNKNOWN),
        ("progress", fmt.progress(job.done, job.total)),
        ("errors", str(job.errors)),
        ("current item", job.current_item or fmt.UNKNOWN),
        ("rate", fmt.rate(job.rate) if job.status is JobStatus.RUNNING else fmt.UNKNOWN),
        ("eta", fmt.eta(job, _estimated_remaining(store, job, now))),
        ("elapsed", fmt.duration(job.elapsed(now))),
        ("created", _when(job.created_at)),
        ("started", _when(job.started_at)),
        ("finished", _when(job.finished_at)),
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
        print(f"{key:>12}  {value}")
    if in_flight:
        print("\nrunning items:")
        for record in in_flight:
            print(f"  {fmt.item_progress(record)}")
    if failed:
        print("\nfailed items:")
        for record in failed:
            tries = f"{record.attempts} attempt{'' if record.attempts == 1 else 's'}"
            print(f"  {shown(record.item)}  ({tries}): {record.error}")
    return 0


def _when(ts: float | None) -> str:
    """A time as people read it: the clock alone today, with the date on any other day."""
    if ts is None:
        return fmt.UNKNOWN
    day = time.strftime("%Y-%m-%d", time.localtime(ts))
    clock_time = time.strftime("%H:%M:%S", time.localtime(ts))
    return clock_time if day == time.strftime("%Y-%m-%d") else f"{day} {clock_time}"


def _position(store: Store, job: Job) -> int | None:
    """A queued job's place in its group's line (1: next), by priority then age."""
    if job.status is not JobStatus.QUEUED:
        return None
    row = store.conn.execute(
        "SELECT COUNT(*) FROM jobs WHERE grp = ? AND status = 'queued'"
        " AND (priority > ? OR (priority = ? AND seq < ?))",
        (job.queue.group, job.queue.priority, job.queue.priority, job.seq),
    ).fetchone()
    return row[0] + 1


def _status_of(store: Store, job_id: str) -> str:
    row = store.conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return "gone" if row is None else row[0]


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


def _write_text(data: bytes, raw: bool = False) -> None:
    """Log bytes to stdout; invalid UTF-8 is shown as U+FFFD rather than crashing.

    On a terminal only colours of the command's escape sequences act (a ``clear`` or a window
    title it printed does not); ``raw`` writes the bytes as they are in the log.
    """
    if raw:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    text = data.decode("utf-8", "replace")
    if sys.stdout.isatty():
        from jobcore.view.screen_text import screen_text

        text = screen_text(text)
    sys.stdout.write(text)
    sys.stdout.flush()


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
    path = ctx.state.log_path(job.id)
    if args.item is not None:
        from jobcore.state.item_text import to_db
        from jobcore.state.launch_env import redactor_for
        from jobcore.state.logs import item_lines, item_prefix

        found = [
            row[0]
            for row in store.conn.execute(
                "SELECT idx FROM items WHERE job_id = ? AND item = ?", (job.id, to_db(args.item))
            )
        ]
        if not found:
            raise JobcoreError(f"no item {args.item!r} in job {job.id}")
        # The log's prefix is the item as masked when it was written.
        shown = redactor_for(ctx.state, job).text(args.item)
        prefixes = tuple(
            item_prefix(args.item, idx, shown).encode("utf-8", "surrogateescape") for idx in found
        )
        lines = item_lines(path, prefixes, args.lines)
        if args.json:
            _emit_json(_lines_json(job.id, b"".join(lines), shown))
        else:
            _write_text(b"".join(lines), args.raw)
        return 0
    data, offset = tail(path, args.lines)
    if args.json:
        _emit_json(_lines_json(job.id, data, None))
        return 0
    if data:
        _write_text(data if data.endswith(b"\n") or args.raw else data + b"\n", args.raw)
    if not args.follow:
        return 0
    live = ctx.state.live_path(job.id) if sys.stdout.isatty() and not args.raw else None
    return _follow(store, job.id, Follower(path, offset), live, args.raw)


def _follow(
    store: Store, job_id: str, follower: Follower, live: Path | None, raw: bool = False
) -> int:
    """Print what the job appends until it ends (0) or the user presses Ctrl-C (130).

    With ``live`` (on a terminal), the line the command is rewriting, a progress bar, stays
    drawn under the output as if the command ran in the foreground; the log itself only gets
    a snapshot of it every few seconds.
    """
    from jobcore.ops.reconcile import reconcile
    from jobcore.state.live_line import read_live
    from jobcore.view.screen_text import fit, screen_text, split_unfinished

    drawn: str | None = None
    held = b""
    """An escape sequence cut by the end of what was read: printed with the rest of it."""

    def erase() -> None:
        nonlocal drawn
        if drawn is not None:
            sys.stdout.write(fmt.ERASE_LINE)
            drawn = None

    def write(chunk: bytes) -> None:
        nonlocal held
        chunk, held = held + chunk, b""
        if not raw:
            chunk, held = split_unfinished(chunk)
        _write_text(chunk, raw)

    try:
        while True:
            chunk = follower.read_new()
            if chunk:
                erase()
                write(chunk)
                continue
            reconcile(store)
            if not store.get(job_id).status.is_active:
                erase()
                while chunk := follower.read_new():
                    write(chunk)
                _write_text(held, raw)
                sys.stdout.flush()
                return 0
            line = read_live(live) if live is not None else None
            if line != drawn:
                erase()
                if line is not None:  # cut to the width: a wrapped line cannot be erased
                    width = shutil.get_terminal_size().columns - 1
                    sys.stdout.write(fit(screen_text(line), width))
                drawn = line
                sys.stdout.flush()
            time.sleep(0.1)
    except KeyboardInterrupt:
        if drawn is not None:
            sys.stdout.write("\n")
        return 130


def _attach_until_end(ctx: Context, job: Job) -> int:
    """Show the job live: 0 if it completed, 1 if not, 130 when the user detaches."""
    from jobcore.cli.attach import attach

    try:
        status = attach(ctx.state, ctx.store, job)
    except KeyboardInterrupt:
        print(f"\ndetached; job {job.id} keeps running", file=sys.stderr)
        return 130
    return 0 if status is JobStatus.COMPLETED else 1


def cmd_attach(args: argparse.Namespace, ctx: Context) -> int:
    return _attach_until_end(ctx, _reconciled(ctx).resolve(args.id))


APPLIES_TO: dict[str, tuple[JobStatus, ...]] = {
    "stop": (JobStatus.QUEUED, JobStatus.RUNNING),
    "kill": (JobStatus.QUEUED, JobStatus.RUNNING),
    "resume": (JobStatus.PAUSED,),
    "release": (JobStatus.QUEUED,),
    "start": (JobStatus.QUEUED,),
    "retry": (JobStatus.FAILED,),
    "rm": (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED),
    "restart": (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED),
}
"""The jobs each many-job verb takes with ``--group`` or ``--all`` (and offers to complete)."""


def _targets(args: argparse.Namespace, ctx: Context) -> list[Job | JobcoreError]:
    """The jobs a many-job verb acts on: the ids given (an id that names no job stays its
    error, reported in its turn), or every job it applies to, of ``--group`` or ``--all``."""
    chosen = [bool(args.ids), args.group is not None, args.all]
    if sum(chosen) != 1:
        raise UsageError("name job IDs, a --group or --all, one of the three")
    if args.ids:
        targets: list[Job | JobcoreError] = []
        for given in args.ids:
            try:
                targets.append(ctx.store.resolve(given))
            except JobcoreError as exc:
                targets.append(exc)
        return targets
    if args.group is not None:
        from jobcore.state.queue import list_groups

        if args.group not in {g.name for g in list_groups(ctx.store)}:
            raise JobcoreError(f"no group {args.group!r}")
    jobs = _reconciled(ctx).list_jobs([s.value for s in APPLIES_TO[args.cmd]])
    if args.group is not None:
        jobs = [j for j in jobs if j.queue.group == args.group]
    if args.cmd == "release":
        jobs = [j for j in jobs if j.queue.held]
    return sorted(jobs, key=lambda j: j.seq)


def _confirmed(args: argparse.Namespace, jobs: Sequence[Job | JobcoreError]) -> bool:
    """``--all`` on kill/stop asks first at a terminal, unless ``-y``."""
    if not args.all or args.yes or not sys.stdin.isatty() or not jobs:
        return True
    print(f"{args.cmd} all {len(jobs)} active job(s)? [y/N] ", end="", file=sys.stderr, flush=True)
    try:
        return sys.stdin.readline().strip().lower() in ("y", "yes")
    except KeyboardInterrupt:
        return False


def _each(
    args: argparse.Namespace,
    ctx: Context,
    act: Callable[[Job], str],
    targets: Sequence[Job | JobcoreError] | None = None,
) -> int:
    """Run ``act`` on every target, one line each on stderr: 0 if all went well, else the
    exit code of the worst error (2 for an ambiguous id, 1 otherwise)."""
    targets = _targets(args, ctx) if targets is None else targets
    if not targets:
        where = f" in group {args.group}" if args.group is not None else ""
        print(f"no job to {args.cmd}{where}", file=sys.stderr)
        return 0
    code = 0
    for target in targets:
        try:
            if isinstance(target, JobcoreError):
                raise target
            print(act(target), file=sys.stderr)
        except JobcoreError as exc:
            print(f"jobcore: error: {exc}", file=sys.stderr)
            code = max(code, exc.exit_code)
    return code


def _queued_first(targets: list[Job | JobcoreError]) -> list[Job | JobcoreError]:
    """Queued jobs before running ones, so none takes a slot freed by stopping another."""
    return sorted(targets, key=lambda t: isinstance(t, Job) and t.status is JobStatus.RUNNING)


def cmd_stop(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.control import MAX_GRACE_S, stop

    if args.grace is not None and not 0 <= args.grace <= MAX_GRACE_S:
        raise UsageError(f"--grace expects seconds from 0 to {MAX_GRACE_S:.0f}")
    targets = _targets(args, ctx)
    if not _confirmed(args, targets):
        print("nothing stopped", file=sys.stderr)
        return 1

    def act(job: Job) -> str:
        job = stop(ctx.store, job.id, args.grace)
        return f"job {job.id} is {job.status.value}"

    return _each(args, ctx, act, _queued_first(targets))


def cmd_kill(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.control import stop

    targets = _targets(args, ctx)
    if not _confirmed(args, targets):
        print("nothing killed", file=sys.stderr)
        return 1

    def act(job: Job) -> str:
        job = stop(ctx.store, job.id, kill=True)
        return f"job {job.id} is {job.status.value} ({job.reason})"

    return _each(args, ctx, act, _queued_first(targets))


def cmd_resume(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.control import resume

    def act(job: Job) -> str:
        resume(ctx.state, ctx.store, job.id, env_now=args.env_now)
        return f"job {job.id} resumed"

    return _each(args, ctx, act)


def cmd_release(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.dispatch import release

    def act(job: Job) -> str:
        release(ctx.state, ctx.store, job.id)
        return f"job {job.id} released"

    return _each(args, ctx, act)


def cmd_start(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.dispatch import start_now

    def act(job: Job) -> str:
        start_now(ctx.state, ctx.store, job.id, force=args.force)
        job = ctx.store.get(job.id)
        if job.status is JobStatus.QUEUED and job.waiting_on is not None:
            return f"job {job.id} is next in line: {_waiting_note(job) or job.waiting_on}"
        return f"job {job.id} started"

    return _each(args, ctx, act)


def cmd_rm(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.control import remove

    def act(job: Job) -> str:
        job = remove(ctx.state, ctx.store, job.id, force=args.force)
        return f"removed {job.id}  {job.status.value:<9}  {job.label}"

    return _each(args, ctx, act)


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

    return _each(args, ctx, act)


def cmd_edit(args: argparse.Namespace, ctx: Context) -> int:
    import shlex

    from jobcore.ops.edit import Changes, changes_from_env_args, edit, edit_in_editor, editable

    store = _reconciled(ctx)
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
        queue = _queue_from_args(
            argparse.Namespace(
                delay=args.delay, at=args.at, priority=0, after=[], group=job.queue.group
            ),
            store,
        )
        not_before = queue.not_before
    changes = Changes(
        command=command,
        cwd=None if args.cwd is None else _launch_dir(args.cwd),
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


def cmd_wait(args: argparse.Namespace, ctx: Context) -> int:
    """Exit 0 when every job completed, 1 when any did not, 124 on timeout.

    ``--all`` watches the whole queue: a job queued while it waits is waited for too, so
    ``jobcore wait --all && ./publish.sh`` cannot publish early.
    """
    if args.timeout is not None:
        limits.seconds("--timeout", args.timeout)
    if args.ids and (args.all or args.group is not None):
        raise UsageError("name job IDs, or wait for --all or a --group, not both")
    store = _reconciled(ctx)

    def active_now() -> list[str]:
        return [
            j.id for j in store.active_jobs() if args.group is None or j.queue.group == args.group
        ]

    ids = list(dict.fromkeys(store.resolve(i).id for i in args.ids)) or active_now()
    if args.all and not args.quiet:
        print(f"waiting for {len(ids)} job(s) and any queued meanwhile", file=sys.stderr)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    try:
        while True:
            if args.all:
                ids += [i for i in active_now() if i not in ids]
            jobs = [store.get(i) for i in ids]
            if not any(j.status.is_active for j in jobs):
                _report_unfinished(jobs, args.quiet)
                return 0 if all(j.status is JobStatus.COMPLETED for j in jobs) else 1
            if deadline is not None and time.monotonic() >= deadline:
                _report_unfinished(jobs, args.quiet)
                return 124
            time.sleep(0.1)
            _reconciled(ctx)
    except KeyboardInterrupt:
        return 130


def _report_unfinished(jobs: Sequence[Job], quiet: bool) -> None:
    """One line on stderr per job that did not complete, saying why (cancelled is its own)."""
    if quiet:
        return
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
        print(f"job {job.id} {what}  {job.label}", file=sys.stderr)


def cmd_group(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.state.queue import add_group, list_groups, remove_group, set_group

    if args.action != "ls" and not args.name:
        raise UsageError(f"group {args.action} needs a NAME")
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
    groups = list_groups(_reconciled(ctx))
    if args.json:
        _emit_json([g.to_json() for g in groups])
        return 0
    rows = [
        [
            g.name + (" (paused)" if g.paused else ""),
            str(g.parallel or "unlimited"),
            str(g.running),
            str(g.queued),
        ]
        for g in groups
    ]
    print(fmt.table(["GROUP", "PARALLEL", "RUNNING", "QUEUED"], rows, color=fmt.use_color()))
    return 0


def _pause_group(args: argparse.Namespace, ctx: Context) -> int:
    """``group pause [--now]`` and ``group resume``: paused first, so no job stopped by
    ``--now`` hands its slot to the next in line."""
    from jobcore.ops import dispatch
    from jobcore.state.queue import pause_group

    if args.now and args.action != "pause":
        raise UsageError("--now goes with group pause")
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

    running = [j for j in _reconciled(ctx).list_jobs(["running"]) if j.queue.group == args.name]
    if not running:
        return 0
    code = _each(args, ctx, act, sorted(running, key=lambda j: j.seq))
    print(f"`jobcore resume --group {args.name}` queues them again", file=sys.stderr)
    return code


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


def cmd_retry(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.ops.control import retry

    if args.item and len(args.ids) != 1:
        raise UsageError("--item goes with one job ID")

    def act(job: Job) -> str:
        changed = retry(ctx.state, ctx.store, job.id, args.item, env_now=args.env_now)
        what = f"{changed} item(s)" if job.is_batch else "the job"
        return f"retrying {what} of job {job.id}"

    return _each(args, ctx, act)


def cmd_failures(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.state.items import (
        ItemRecord,
        failed_job_json,
        failed_jobs,
        failures,
        forget_failures,
        shown,
    )

    store = _reconciled(ctx)
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
        _emit_json(
            [e.to_json() if isinstance(e, ItemRecord) else failed_job_json(e) for _, e in entries]
        )
        return 0
    if not entries:
        print("no failures", file=sys.stderr)
        return 0
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
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    headers = ["TIME", "JOB", "ITEM", "ATTEMPTS", "ERROR"]
    print(fmt.table(headers, rows, color=fmt.use_color(), width=width))
    return 0


def cmd_clean(args: argparse.Namespace, ctx: Context) -> int:
    from jobcore.base.durations import parse_duration
    from jobcore.ops.housekeeping import DEFAULT_STATUSES, clean

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
    from jobcore.state.events import history

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
        _emit_json(values)
        return 0
    for name, key in config.KEYS.items():
        print(f"{name} = {json.dumps(values[name])}    # {key.help}")
    return 0


def cmd_doctor(args: argparse.Namespace, ctx: Context) -> int:
    """Exit 0 when all is well (or all was fixed), 1 when something is (still) wrong."""
    from jobcore.ops.doctor import UNFIXABLE, examine

    findings = examine(ctx.state, ctx.store, fix=args.fix)
    if args.json:
        _emit_json([f.to_json() for f in findings])
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
