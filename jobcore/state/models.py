"""What a job is, as every reader (CLI, dashboard, library) sees it."""

from __future__ import annotations

import json
import shlex
import sqlite3
import time
from enum import StrEnum
from itertools import product
from typing import Any, NamedTuple


class JobStatus(StrEnum):
    """Life of a job. ``queued`` waits for its worker to start the command (or for a slot);
    ``paused`` was stopped and can be resumed; ``completed``/``failed`` are final, and so is
    ``cancelled``: killed or removed before it ever started (not a failure of the job)."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_active(self) -> bool:
        """A worker process is (supposed to be) alive for this job."""
        return self in (JobStatus.QUEUED, JobStatus.RUNNING)

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


ACTIVE_STATUSES: tuple[str, ...] = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)

_RUNNING = JobStatus.RUNNING.value


def iso(ts: float | None) -> str | None:
    """Epoch seconds as ISO-8601 with the local offset, or None; by hand from ``localtime``,
    far cheaper than datetime (docs/decisions/0012-compact-json-straight-from-rows.md)."""
    if ts is None:
        return None
    second = int(ts)
    head, tail, _ = _MINUTES.get(second // 60) or _minute(ts, second)
    return f"{head}{_SECONDS[second % 60]}.{_MILLISECONDS[int(ts * 1000) % 1000]}{tail}"


def iso_json(ts: float | None) -> str:
    """``json.dumps(iso(ts))``: for JSON written as text (``jobcore.state.json_text``)."""
    return "null" if ts is None else f'"{iso(ts)}"'


def _minute(ts: float, second: int) -> tuple[str, str, bool]:
    """``_minute_parts(ts)``, kept for the minute where every second reads the same way."""
    minute = second // 60
    parts = _MINUTES.get(minute)
    if parts is None:
        parts = _minute_parts(ts)
        if len(_MINUTES) >= _MINUTES_KEPT:
            _MINUTES.clear()
        if parts[2]:
            _MINUTES[minute] = parts
    return parts


_SECONDS = tuple(map("".join, product("012345", "0123456789")))
_MILLISECONDS = tuple(map("".join, product("0123456789", repeat=3)))
"""``00``..``59`` and ``000``..``999``, looked up rather than formatted (built in 0.05 ms, a
quarter of what formatting them costs every command at import)."""


_MINUTES: dict[int, tuple[str, str, bool]] = {}
"""``iso`` of one minute: most timestamps of a job list share theirs with others."""
_MINUTES_KEPT = 4096


def _minute_parts(ts: float) -> tuple[str, str, bool]:
    """The text of ``ts``'s local minute (``2026-05-01T14:03:``), its offset (``+02:00``), and
    whether every second of that minute reads the same way (not so in a zone whose offset
    has seconds, or before the epoch: those are formatted second by second)."""
    local = time.localtime(ts)
    offset = local.tm_gmtoff
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset) // 60, 60)
    whole = ts >= 0 and offset % 60 == 0 and local.tm_sec == int(ts) % 60
    head = time.strftime("%Y-%m-%dT%H:%M:", local)
    return head, f"{sign}{hours:02d}:{minutes:02d}", whole


def decoded(text: str) -> Any:
    """A JSON column; the empty ``{}`` and ``[]`` most jobs hold skip the decoder
    (docs/decisions/0012-compact-json-straight-from-rows.md)."""
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return json.loads(text)


class ProcessIdentity(NamedTuple):
    """A process as it can be proven to be the same one later: pid plus start time.

    ``start`` is the kernel's start time in clock ticks since boot on Linux (exact, immune to
    wall-clock steps) together with ``boot_id``; elsewhere it is psutil's create time, which is
    compared with a tolerance because it moves with the wall clock.
    """

    pid: int
    start: float
    boot_id: str = ""


class BatchSpec(NamedTuple):
    """How a batch runs, as stored in the job's ``spec`` column."""

    parallel: int = 1
    retries: int = 0
    backoff: float = 1.0
    call: str | None = None
    processes: bool = False
    cluster: str | None = None
    """The Dask scheduler the items run on (None: this machine; see ``jobcore.state.cluster``)."""

    @classmethod
    def of(cls, job: Job) -> BatchSpec:
        spec = job.spec
        return cls(
            parallel=int(spec.get("parallel", 1)),
            retries=int(spec.get("retries", 0)),
            backoff=float(spec.get("backoff", 1.0)),
            call=spec.get("call"),
            processes=bool(spec.get("processes", False)),
            cluster=spec.get("cluster"),
        )

    def to_spec(self) -> dict[str, object]:
        spec: dict[str, object] = {
            "each": True,
            "parallel": self.parallel,
            "retries": self.retries,
            "backoff": self.backoff,
            "call": self.call,
            "processes": self.processes,
        }
        if self.cluster:
            spec["cluster"] = self.cluster
        return spec


class QueueSpec(NamedTuple):
    """Where a job waits before it runs: its group, its place in line, what it waits for."""

    group: str = "default"
    priority: int = 0
    after: tuple[str, ...] = ()
    not_before: float | None = None
    held: bool = False
    """``run --hold``: it waits until ``jobcore release`` or ``jobcore start``."""


class Ending(NamedTuple):
    """How a worker's run of a job ended, as it will be recorded."""

    status: JobStatus
    reason: str | None
    exit_code: int | None = None
    paused_until: float | None = None
    actor: str = "worker"
    """Who ended it: ``user`` when a stop or kill asked for it."""


TERMINATED = Ending(JobStatus.FAILED, "worker was terminated (SIGTERM)")
"""A SIGTERM to the worker (a shutdown) ended the run: failed, and resumable."""


def exit_reason(returncode: int, said: str = "", *, exited: str = "exited with code") -> str:
    """Why a command failed, as recorded: ``killed by SIGKILL`` for a signal (a negative
    code), else ``exited with code 3`` with what it last said, if anything.

    A batch item's error words it ``exit code 3`` (``exited="exit code"``), as its tables show.
    """
    if returncode < 0:
        import signal

        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    text = f"{exited} {returncode}"
    return f"{text}: {said}" if said else text


class Job(NamedTuple):
    """One row of the ``jobs`` table, decoded."""

    id: str
    seq: int
    name: str | None
    command: list[str]
    cwd: str
    env: dict[str, str]
    status: JobStatus
    reason: str | None
    created_at: float
    queued_at: float
    started_at: float | None
    finished_at: float | None
    exit_code: int | None
    worker: ProcessIdentity | None
    command_proc: ProcessIdentity | None
    stop_request: str | None
    total: int | None
    done: int
    errors: int
    current_item: str | None
    rate: float | None
    eta_s: float | None
    progress_at: float | None
    spec: dict[str, Any]
    """How a batch runs (items, parallelism, retries, call target); empty for one command."""
    paused_until: float | None
    """A self-paused job resumes by itself at this time."""
    queue: QueueSpec
    waiting_on: str | None
    """What a queued job's worker waits for: ``delay``, ``deps`` or ``slot``."""
    on_done: str | None
    """A shell command run when the job ends (pueue's callback)."""
    redact: tuple[str, ...]
    """Names of environment variables whose values are masked in the log."""
    masked: dict[str, Any] | None
    """The command line and callback as shown (``command``, ``on_done``), where masking them
    changed anything; None for a job from before they were masked at launch."""
    run_s: float = 0.0
    """Seconds it ran in its legs that ended (each resume starts a new leg)."""

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        boot = row["boot_id"] or ""
        worker = (
            ProcessIdentity(row["worker_pid"], row["worker_start"], boot)
            if row["worker_pid"] is not None
            else None
        )
        command_proc = (
            ProcessIdentity(row["cmd_pid"], row["cmd_start"], boot)
            if row["cmd_pid"] is not None
            else None
        )
        return cls(
            id=row["id"],
            seq=row["seq"],
            name=row["name"],
            command=decoded(row["command"]),
            cwd=row["cwd"],
            env=decoded(row["env"]),
            status=JobStatus(row["status"]),
            reason=row["reason"],
            created_at=row["created_at"],
            queued_at=row["queued_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            exit_code=row["exit_code"],
            worker=worker,
            command_proc=command_proc,
            stop_request=row["stop_request"],
            total=row["total"],
            done=row["done"],
            errors=row["errors"],
            current_item=row["current_item"],
            rate=row["rate"],
            eta_s=row["eta_s"],
            progress_at=row["progress_at"],
            spec=decoded(row["spec"]),
            paused_until=row["paused_until"],
            queue=QueueSpec(
                row["grp"],
                row["priority"],
                tuple(decoded(row["after"])),
                row["not_before"],
                bool(row["held"]),
            ),
            waiting_on=row["waiting_on"],
            on_done=row["on_done"],
            redact=tuple(decoded(row["redact"])),
            masked=None if row["masked"] is None else decoded(row["masked"]),
            run_s=row["run_s"],
        )

    @property
    def masked_env(self) -> dict[str, str]:
        """The environment overrides as shown to people: secret values masked."""
        from jobcore.base.redact import mask_env

        return mask_env(self.env, self.redact)

    @property
    def is_batch(self) -> bool:
        return "each" in self.spec

    @property
    def shown_command(self) -> list[str]:
        """The command as displayed: credentials masked (the clear one is the worker's)."""
        if self.masked is None:
            from jobcore.base.redact import mask_argv

            return mask_argv(self.command)
        return self.masked.get("command", self.command)

    @property
    def shown_on_done(self) -> str | None:
        """The callback as displayed: credentials masked."""
        if self.on_done is None:
            return None
        if self.masked is None:
            from jobcore.base.redact import mask_text

            return mask_text(self.on_done)
        return self.masked.get("on_done", self.on_done)

    @property
    def command_line(self) -> str:
        """The command as a person would type it (or the function a Python batch calls),
        credentials masked."""
        if self.spec.get("call"):
            return f"{self.spec['call']}(item)"
        return shlex.join(self.shown_command)

    @property
    def label(self) -> str:
        """What a person calls this job: its name, else its command line."""
        return self.name or self.command_line

    def elapsed(self, now: float) -> float | None:
        """Seconds it has run in all, across resumes (None: it never started)."""
        return run_time(self.status.value, self.started_at, self.finished_at, self.run_s, now)

    def leg_elapsed(self, now: float) -> float | None:
        """Seconds its current (or last) run has lasted, since its latest start or resume."""
        if self.started_at is None or self.status is JobStatus.QUEUED:
            return None
        end = now if self.status is JobStatus.RUNNING else self.finished_at or now
        return max(0.0, end - self.started_at)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of ``ls --json`` and ``show --json``."""
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status.value,
            "pid": self.worker.pid if self.worker else None,
            "command_pid": self.command_proc.pid if self.command_proc else None,
            "command": self.shown_command,
            "cwd": self.cwd,
            "env": self.masked_env,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "exit_code": self.exit_code,
            "error": self.reason if self.status is JobStatus.FAILED else None,
            "reason": self.reason,
            "total": self.total,
            "done": self.done,
            "errors": self.errors,
            "current_item": self.current_item,
            "rate": self.rate if self.status is JobStatus.RUNNING else None,
            "eta_s": self.eta_s if self.status is JobStatus.RUNNING else None,
            "elapsed_s": self.elapsed(time.time()),
            "progress_updated_at": iso(self.progress_at),
            "paused_until": iso(self.paused_until),
            "batch": self.spec or None,
            "group": self.queue.group,
            "priority": self.queue.priority,
            "after": list(self.queue.after),
            "not_before": iso(self.queue.not_before),
            "waiting_on": self.waiting_on,
            "on_done": self.shown_on_done,
        }


def run_time(
    status: str, started_at: float | None, finished_at: float | None, run_s: float, now: float
) -> float | None:
    """Seconds a job has run in all, across resumes (None: it never started).

    ``run_s`` holds the legs that have ended; a running job adds its current one.
    """
    if started_at is None:
        return None
    if status == _RUNNING:  # not JobStatus.RUNNING.value: an enum lookup per row of a list
        return run_s + max(0.0, now - started_at)
    if not run_s and finished_at is not None:  # a row written by hand
        return max(0.0, finished_at - started_at)
    return run_s


CANCELLED_REASON = "cancelled before it started"


def requested_ending(stop_request: str | None) -> Ending | None:
    """The ending a user's stop or kill asked for, if any: it wins over the exit code."""
    if stop_request == "pause":
        return Ending(JobStatus.PAUSED, "stopped by user", actor="user")
    if stop_request == "kill":
        return Ending(JobStatus.FAILED, "killed", actor="user")
    if stop_request == "cancel":
        return Ending(JobStatus.CANCELLED, CANCELLED_REASON, actor="user")
    return None
