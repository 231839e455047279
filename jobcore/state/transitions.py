"""Every change of a job's status, worker, claim or stop request, and of an item's status.

The one place that writes those columns, so "state never lies" can be audited here. Each
function runs inside the caller's write transaction (``with store.write() as conn``), is
conditional (it changes the row only if the row is still as the caller saw it, and says
whether it did), and records the job's event in the same transaction where the change is
part of its history. Claims, worker identities and item starts are bookkeeping of a run,
not history: they record no event.

Who calls what: the queue claims (``claim``, ``release_claim``), a worker adopts its claim
(``adopt``) and marks the job running, anyone ends an active job (``finish_if_active``: the
worker, a stop, a reader that found the worker dead), a person asks a stop
(``request_stop``) or puts a job back in line (``requeue``). Items: the ledger starts and
ends attempts, a stop or a dead worker puts them back (``interrupt_items``), retry and
restart reset them (``reset_items``).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from jobcore.base import clock
from jobcore.state.models import ACTIVE_STATUSES, FINAL_STATUSES, JobStatus, ProcessIdentity

WAITING = "status = 'queued' AND claim IS NULL AND worker_pid IS NULL AND held = 0"
"""A queued job nobody is starting: it waits for its turn (a held one waits for a person)."""
SELF_PAUSED = "status = 'paused' AND paused_until IS NOT NULL"
"""A self-paused job that resumes by itself (``retry_after``)."""
NEW_CLAIM = "new"
"""The claim of a job whose launcher is still writing its folder."""

_RUN_CLEARED = (
    "reason = NULL, finished_at = NULL, exit_code = NULL, worker_pid = NULL,"
    " worker_start = NULL, cmd_pid = NULL, cmd_start = NULL, claim = NULL,"
    " stop_request = NULL, stop_grace = NULL, stop_signalled = 0,"
    " paused_until = NULL, due_clock = NULL, due_boot = NULL"
)
"""What a job back in line forgets of its last run (who ran it, how it ended, a stop)."""


def _one(cursor: sqlite3.Cursor) -> bool:
    """Whether the statement changed the one row it was about."""
    return cursor.rowcount == 1


def record_event(
    conn: sqlite3.Connection, job_id: str, kind: str, actor: str, reason: str | None = None
) -> None:
    """One line of a job's history, inside the transaction that made the change.

    ``actor`` is who acted: ``user`` (a command or the dashboard), ``worker``, ``liveness``
    (a reader that found the worker dead), ``queue`` or ``doctor``. Events outlive ``clean``.
    """
    conn.execute(
        "INSERT INTO events (job_id, t, kind, actor, reason) VALUES (?, ?, ?, ?, ?)",
        (job_id, time.time(), kind, actor, reason),
    )


# -- claims and workers --------------------------------------------------------------------


def claim(conn: sqlite3.Connection, job_id: str, token: str, starter: ProcessIdentity) -> bool:
    """A starter takes a waiting job: its worker will run it only while the row carries
    ``token``. Conditional on the job still waiting (nobody else claimed it)."""
    return _one(
        conn.execute(
            "UPDATE jobs SET claim = ?, claimer_pid = ?, claimer_start = ?, claimer_boot = ?,"
            f" waiting_on = NULL, front = 0 WHERE id = ? AND {WAITING}",
            (token, starter.pid, starter.start, starter.boot_id, job_id),
        )
    )


def release_claim(conn: sqlite3.Connection, job_id: str, token: str) -> bool:
    """Give a claim up (its starter died, or its launcher finished writing the job): the job
    waits in line again. Never once a worker is recorded; a late worker finds no token."""
    return _one(
        conn.execute(
            "UPDATE jobs SET claim = NULL WHERE id = ? AND claim = ? AND worker_pid IS NULL",
            (job_id, token),
        )
    )


def record_worker(conn: sqlite3.Connection, job_id: str, worker: ProcessIdentity) -> bool:
    """The starter records the worker it started, unless that worker recorded itself first."""
    return _one(
        conn.execute(
            "UPDATE jobs SET worker_pid = ?, worker_start = ?, boot_id = ?"
            " WHERE id = ? AND worker_pid IS NULL AND status = 'queued'",
            (worker.pid, worker.start, worker.boot_id, job_id),
        )
    )


def adopt(conn: sqlite3.Connection, job_id: str, token: str, me: ProcessIdentity) -> str | None:
    """A worker takes the job its claim names; None, or why the job is not its to run
    (stopped or resumed meanwhile, its claim given up, another worker recorded)."""
    row = conn.execute(
        "SELECT status, claim, worker_pid, worker_start FROM jobs WHERE id = ?", (job_id,)
    ).fetchone()
    if row is None or row["status"] != JobStatus.QUEUED.value:
        return f"the job is {'gone' if row is None else row['status']}"
    if row["claim"] != token:
        return "its claim was given up"
    if row["worker_pid"] is not None and (
        row["worker_pid"] != me.pid or row["worker_start"] != me.start
    ):
        return (
            f"worker {row['worker_pid']} ({row['worker_start']}) owns the job, not "
            f"{me.pid} ({me.start})"
        )
    conn.execute(
        "UPDATE jobs SET worker_pid = ?, worker_start = ?, boot_id = ? WHERE id = ?",
        (me.pid, me.start, me.boot_id, job_id),
    )
    return None


def mark_running(conn: sqlite3.Connection, job_id: str, worker: ProcessIdentity) -> bool:
    """The job's worker starts its command or batch: only while the job is still queued
    under that worker (a stop that ended it meanwhile keeps it ended)."""
    changed = _one(
        conn.execute(
            "UPDATE jobs SET status = 'running', started_at = ?, reason = NULL"
            " WHERE id = ? AND status = 'queued' AND worker_pid = ? AND worker_start = ?",
            (clock.wall(), job_id, worker.pid, worker.start),
        )
    )
    if changed:
        record_event(conn, job_id, "started", "worker")
    return changed


# -- endings -------------------------------------------------------------------------------


class Finish(NamedTuple):
    """How an active job ends: its status, reason, exit code, a self-pause's resume time."""

    status: JobStatus
    reason: str | None
    exit_code: int | None = None
    paused_until: float | None = None


def finish_if_active(
    conn: sqlite3.Connection,
    job_id: str,
    end: Finish,
    *,
    expect_worker: ProcessIdentity | None,
    actor: str,
) -> bool:
    """Move an active job to its ending unless someone already moved it.

    Only while the row still names ``expect_worker`` (or names no worker, for None): a job
    resumed by a new worker in the meantime, or finished by its own worker, is left alone.
    """
    due = clock.now()
    paused_until = end.paused_until
    due_clock = None if paused_until is None else due.t + paused_until - clock.wall()
    now = time.time()
    sql = (
        "UPDATE jobs SET status = ?, reason = ?, finished_at = ?, exit_code = ?,"
        " paused_until = ?, due_clock = ?, due_boot = ?, claim = NULL, forgotten = 0,"
        " run_s = run_s + CASE WHEN status = 'running'"
        " AND started_at IS NOT NULL THEN MAX(0, ? - started_at) ELSE 0 END"
        " WHERE id = ? AND status IN (?, ?)"
    )
    args: list[Any] = [
        end.status.value,
        end.reason,
        now,
        end.exit_code,
        paused_until,
        due_clock,
        due.boot,
        now,
        job_id,
        *ACTIVE_STATUSES,
    ]
    if expect_worker is None:
        sql += " AND worker_pid IS NULL"
    else:
        sql += " AND worker_pid = ? AND worker_start = ?"
        args += [expect_worker.pid, expect_worker.start]
    changed = conn.execute(sql, args).rowcount == 1
    if changed:
        kind = "killed" if end.reason == "killed" else end.status.value
        record_event(conn, job_id, kind, actor, end.reason)
    return changed


def fail_waiting(conn: sqlite3.Connection, job_id: str, reason: str, actor: str) -> bool:
    """A waiting job that can never start (its dependency failed or is gone) fails."""
    changed = _one(
        conn.execute(
            f"UPDATE jobs SET status = 'failed', reason = ?, finished_at = ?"
            f" WHERE id = ? AND {WAITING}",
            (reason, clock.wall(), job_id),
        )
    )
    if changed:
        record_event(conn, job_id, "failed", actor, reason)
    return changed


# -- stops ---------------------------------------------------------------------------------


def request_stop(conn: sqlite3.Connection, job_id: str, grace: float, *, kill: bool) -> bool:
    """Ask an active job's worker to stop it (pause) or kill it. A kill of a job that never
    started cancels it: decided in this same UPDATE, so a job starting meanwhile is killed."""
    request = (
        "CASE WHEN status = 'queued' AND started_at IS NULL THEN 'cancel' ELSE 'kill' END"
        if kill
        else "'pause'"
    )
    return _one(
        conn.execute(
            f"UPDATE jobs SET stop_request = {request}, stop_grace = ?"
            " WHERE id = ? AND status IN ('queued', 'running')",
            (grace, job_id),
        )
    )


def mark_stop_signalled(conn: sqlite3.Connection, job_id: str) -> bool:
    """The stop reached the command while it ran: its ending is the stop's, not its own."""
    return _one(
        conn.execute(
            "UPDATE jobs SET stop_signalled = 1 WHERE id = ? AND status = 'running'", (job_id,)
        )
    )


def cancel_auto_resume(conn: sqlite3.Connection, job_id: str) -> bool:
    """A self-paused job stays paused instead of resuming by itself at ``retry_after``."""
    return _one(
        conn.execute(
            "UPDATE jobs SET paused_until = NULL, due_clock = NULL, due_boot = NULL"
            f" WHERE id = ? AND {SELF_PAUSED}",
            (job_id,),
        )
    )


def delete_if_unchanged(
    conn: sqlite3.Connection,
    job_id: str,
    status: JobStatus,
    worker_pid: int | None,
    kind: str,
    actor: str,
) -> bool:
    """Delete a job's row, items and samples if it is still as seen (a job resumed meanwhile
    is not ours to remove any more); its history stays, with this as its last event."""
    deleted = conn.execute(
        "DELETE FROM jobs WHERE id = ? AND status = ? AND worker_pid IS ?",
        (job_id, status.value, worker_pid),
    ).rowcount
    if not deleted:
        return False
    conn.execute("DELETE FROM items WHERE job_id = ?", (job_id,))
    conn.execute("DELETE FROM samples WHERE job_id = ?", (job_id,))
    record_event(conn, job_id, kind, actor, f"was {status.value}")
    return True


# -- back in line --------------------------------------------------------------------------


def requeue(
    conn: sqlite3.Connection,
    job_id: str,
    *,
    fresh: bool,
    actor: str,
    reason: str | None,
    kind: str,
    from_statuses: Iterable[JobStatus],
) -> bool:
    """A job that is not running goes back in line: a resume (``fresh`` False: its progress
    and first start are kept) or a restart in place (``fresh``: a run from nothing)."""
    queued = clock.now()
    statuses = [s.value for s in from_statuses]
    sets = _RUN_CLEARED + ", held = 0, front = 0"
    if fresh:
        sets += (
            ", started_at = NULL, waiting_on = NULL, done = 0, errors = 0,"
            " current_item = NULL, rate = NULL, eta_s = NULL, progress_at = NULL"
        )
    changed = _one(
        conn.execute(
            f"UPDATE jobs SET status = 'queued', queued_at = ?, queued_clock = ?,"
            f" queued_boot = ?, {sets}"
            f" WHERE id = ? AND status IN ({','.join('?' * len(statuses))})",
            (clock.wall(), queued.t, queued.boot, job_id, *statuses),
        )
    )
    if changed:
        if fresh:  # a rate measured on the last run means nothing for this one
            conn.execute("DELETE FROM samples WHERE job_id = ?", (job_id,))
        record_event(conn, job_id, kind, actor, reason)
    return changed


def resume_self_paused(conn: sqlite3.Connection, job_id: str, paused_until: float) -> bool:
    """A self-paused job whose ``retry_after`` has come goes back in line by itself."""
    queued = clock.now()
    changed = _one(
        conn.execute(
            f"UPDATE jobs SET status = 'queued', {_RUN_CLEARED},"
            " queued_clock = ?, queued_boot = ? WHERE id = ? AND status = 'paused'"
            " AND paused_until = ?",
            (queued.t, queued.boot, job_id, paused_until),
        )
    )
    if changed:
        record_event(conn, job_id, "resumed", "queue", "retry_after passed")
    return changed


RESUMABLE = (JobStatus.PAUSED, JobStatus.FAILED, JobStatus.CANCELLED)
"""What a resume puts back in line (completed has nothing left; an active job runs)."""
RESTARTABLE = tuple(FINAL_STATUSES)


# -- items ---------------------------------------------------------------------------------


class ItemEnd(NamedTuple):
    """One ended attempt as recorded: its status and what it left."""

    idx: int
    status: str
    attempts: int
    exit_code: int | None
    error: str | None
    result: str | None
    started_at: float | None
    finished_at: float
    duration: float | None
    retry_at: clock.Stamp | None


def start_items(
    conn: sqlite3.Connection, job_id: str, started: Iterable[tuple[int, int, float | None]]
) -> None:
    """Attempts started: (idx, attempts, started_at) of items still waiting or running."""
    conn.executemany(
        "UPDATE items SET status = 'running', attempts = ?, started_at = ?,"
        " finished_at = NULL, duration = NULL"
        " WHERE job_id = ? AND idx = ? AND status IN ('pending', 'running')",
        [(attempts, at, job_id, idx) for idx, attempts, at in started],
    )


def end_item(conn: sqlite3.Connection, job_id: str, end: ItemEnd) -> bool:
    """An attempt ended: done, failed for good, or pending again after a backoff. Never an
    item already done or failed: an attempt's end is recorded once."""
    return _one(
        conn.execute(
            "UPDATE items SET status = ?, attempts = ?, exit_code = ?, error = ?, result = ?,"
            " started_at = ?, finished_at = ?, duration = ?, not_before = ?,"
            " not_before_boot = ?, forgotten = 0"
            " WHERE job_id = ? AND idx = ? AND status IN ('pending', 'running')",
            (
                end.status,
                end.attempts,
                end.exit_code,
                end.error,
                end.result,
                end.started_at,
                end.finished_at,
                end.duration,
                None if end.retry_at is None else end.retry_at.t,
                None if end.retry_at is None else end.retry_at.boot,
                job_id,
                end.idx,
            ),
        )
    )


def interrupt_items(conn: sqlite3.Connection, job_id: str, idx: int | None = None) -> int:
    """Running items (all of the job's, or one) back to pending: their attempt was cut short
    (a stop, a pause, a dead worker) and does not count against the retry budget."""
    sql = (
        "UPDATE items SET status = 'pending', attempts = MAX(0, attempts - 1), started_at = NULL"
        " WHERE job_id = ? AND status = 'running'"
    )
    args: list[Any] = [job_id]
    if idx is not None:
        sql += " AND idx = ?"
        args.append(idx)
    return conn.execute(sql, args).rowcount


def reset_items(
    conn: sqlite3.Connection,
    job_id: str,
    *,
    only_failed: bool,
    items: Sequence[str | bytes] | None = None,
) -> int:
    """Items back to pending with a fresh retry budget and nothing of their last attempt:
    the failed ones (a retry; optionally only those named) or all of them (a restart)."""
    sql = (
        "UPDATE items SET status = 'pending', attempts = 0, error = NULL, exit_code = NULL,"
        " result = NULL, started_at = NULL, finished_at = NULL, duration = NULL,"
        " not_before = NULL, not_before_boot = NULL, forgotten = 0 WHERE job_id = ?"
    )
    args: list[Any] = [job_id]
    if only_failed:
        sql += " AND status = 'failed'"
    if items:
        sql += f" AND item IN ({','.join('?' * len(items))})"
        args.extend(items)
    return conn.execute(sql, args).rowcount
