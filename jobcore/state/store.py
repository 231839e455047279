"""The queries everything else uses: create, find and list jobs, record progress.

One ``Store`` is one connection (``jobcore.state.database``); every write is a
``BEGIN IMMEDIATE`` transaction (``Store.write``). Status, worker, claim and stop-request
changes go through ``jobcore.state.transitions``
(docs/decisions/0002-sqlite-wal-and-begin-immediate.md).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from jobcore.base import clock
from jobcore.base.errors import JobcoreError, UsageError
from jobcore.state import transitions
from jobcore.state.database import BRIEF_WAIT_MS, BUSY_TIMEOUT_MS, db_error, open_database
from jobcore.state.json_rows import JSON_COLUMNS, jobs_json
from jobcore.state.models import (
    ACTIVE_STATUSES,
    Job,
    JobStatus,
    ProcessIdentity,
    QueueSpec,
)
from jobcore.state.paths import StateDir
from jobcore.state.patience import Patience
from jobcore.state.progress_rows import apply_progress
from jobcore.state.transitions import NEW_CLAIM, record_event

ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: ids are read aloud and typed
ID_LENGTH = 5
OWNED_COLUMNS = frozenset(
    {"status", "worker_pid", "worker_start", "claim", "stop_request", "stop_signalled"}
)
"""Columns only ``jobcore.state.transitions`` writes."""


def new_id() -> str:
    """A random short id from ID_ALPHABET (os.urandom: the secrets module is slow to import)."""
    return "".join(ID_ALPHABET[b % len(ID_ALPHABET)] for b in os.urandom(ID_LENGTH))


class Store:
    """One connection to the state database. Cheap to open; not shared between threads."""

    def __init__(self, state: StateDir) -> None:
        self.state = state
        self.patience = Patience()
        """How writes meet a locked or full database: fail fast here; a worker waits."""
        self.connect()

    def connect(self) -> None:
        """Open the connection: at creation, and again in a launcher that closed it to fork a
        worker (no SQLite connection may cross a fork)."""
        self.conn = open_database(self.state.db_path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken with ``BEGIN IMMEDIATE`` (waits politely for other writers)."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise db_error(exc, self.state.db_path) from exc
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise db_error(exc, self.state.db_path) from exc
            raise

    @contextmanager
    def briefly(self) -> Iterator[None]:
        """Writes inside wait BRIEF_WAIT_MS for the lock, not BUSY_TIMEOUT_MS (for writes
        that may lag, made between reads of a command's output)."""
        self.conn.execute(f"PRAGMA busy_timeout={BRIEF_WAIT_MS}")
        try:
            yield
        finally:
            self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    # -- jobs -----------------------------------------------------------------------------------

    def create_job(
        self,
        command: Sequence[str],
        cwd: str,
        env: dict[str, str],
        name: str | None,
        *,
        spec: dict[str, Any] | None = None,
        items: Sequence[str] = (),
        queue: QueueSpec | None = None,
        on_done: str | None = None,
        redact: Sequence[str] = (),
        masked: dict[str, Any] | None = None,
        held_by: ProcessIdentity | None = None,
        launch_token: str | None = None,
    ) -> Job:
        """Insert a new queued job with a fresh short id (retrying the rare collision).

        ``held_by``: the job is created claimed by that process (its launcher), so no starter
        takes it before its folder is written; the launcher lets go with ``release_new``.
        ``launch_token``: at most one job is ever made with it (``job_launched_as``).

        A batch's ``items`` are inserted in the same transaction: a batch never exists
        without all of its items.
        """
        now, queued = clock.wall(), clock.now()
        queue = queue or QueueSpec()
        with self.write() as conn:
            if (
                conn.execute("SELECT 1 FROM groups WHERE name = ?", (queue.group,)).fetchone()
                is None
            ):
                raise JobcoreError(
                    f"no group {queue.group!r}; create it with `jobcore group add {queue.group}`"
                )
            if launch_token is not None and self.job_launched_as(launch_token):
                raise JobcoreError("this launch has made its job already")  # a race lost
            for _ in range(20):
                job_id = new_id()
                try:
                    conn.execute(
                        "INSERT INTO jobs (id, name, command, cwd, env, status, created_at,"
                        " queued_at, spec, grp, priority, after, not_before, on_done, redact,"
                        " queued_clock, queued_boot, masked, claim, claimer_pid, claimer_start,"
                        " claimer_boot, held, waiting_on, launch_token)"
                        " VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                        " ?, ?, ?, ?, ?, ?, ?)",
                        (
                            job_id,
                            name,
                            json.dumps(list(command)),
                            cwd,
                            json.dumps(env),
                            now,
                            now,
                            json.dumps(spec or {}),
                            queue.group,
                            queue.priority,
                            json.dumps(list(queue.after)),
                            queue.not_before,
                            on_done,
                            json.dumps(list(redact)),
                            queued.t,
                            queued.boot,
                            json.dumps(masked or {}),
                            None if held_by is None else NEW_CLAIM,
                            None if held_by is None else held_by.pid,
                            None if held_by is None else held_by.start,
                            None if held_by is None else held_by.boot_id,
                            int(queue.held),
                            "held" if queue.held else None,
                            launch_token,
                        ),
                    )
                    break
                except sqlite3.IntegrityError:
                    continue
            else:  # pragma: no cover - 20 collisions in a row means the id space is exhausted
                raise JobcoreError("could not allocate a job id")
            record_event(conn, job_id, "created", "user")
            if spec and "each" in spec:
                from jobcore.state.item_text import to_db

                conn.executemany(
                    "INSERT INTO items (job_id, idx, item) VALUES (?, ?, ?)",
                    ((job_id, idx, to_db(item)) for idx, item in enumerate(items)),
                )
                apply_progress(conn, job_id, done=0, total=len(items))
        return self.get(job_id)

    def job_launched_as(self, launch_token: str) -> Job | None:
        """The job made under ``launch_token``, if any."""
        row = self.conn.execute("SELECT * FROM jobs WHERE launch_token = ?", (launch_token,))
        return next((Job.from_row(r) for r in row), None)

    def last_created(self) -> float | None:
        """When the newest job was made (None: none yet)."""
        row = self.conn.execute("SELECT created_at FROM jobs ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else float(row[0])

    def release_new(self, job_id: str) -> None:
        """Let a job created ``held_by`` its launcher wait in line like any other."""
        with self.write() as conn:
            transitions.release_claim(conn, job_id, NEW_CLAIM)

    def get(self, job_id: str) -> Job:
        row = self.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobcoreError(f"no job with id {job_id!r}")
        return Job.from_row(row)

    def resolve(self, prefix: str) -> Job:
        """The job whose id is ``prefix`` or starts with it; unknown and ambiguous are errors."""
        prefix = prefix.strip().lower()
        if not prefix or any(c not in ID_ALPHABET for c in prefix):
            raise JobcoreError(f"no job with id {prefix!r}")
        rows = self.conn.execute(
            "SELECT * FROM jobs WHERE id >= ? AND id < ? ORDER BY id LIMIT 6",
            (prefix, prefix + "\U0010ffff"),
        ).fetchall()
        exact = [r for r in rows if r["id"] == prefix]
        if exact:
            return Job.from_row(exact[0])
        if not rows:
            raise JobcoreError(f"no job with id {prefix!r}")
        if len(rows) > 1:
            names = ", ".join(r["id"] for r in rows[:5])
            raise UsageError(f"job id {prefix!r} is ambiguous: {names}")
        return Job.from_row(rows[0])

    def list_jobs(
        self,
        statuses: Sequence[str] | None = None,
        limit: int | None = None,
        name: str | None = None,
    ) -> list[Job]:
        """Jobs newest first, optionally only some statuses or one name."""
        return [Job.from_row(r) for r in self._rows(statuses, limit, name)]

    def list_json(self, statuses: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """``list_jobs(statuses)`` as ``Job.to_json`` shows them, built straight from rows."""
        cursor = self.conn.cursor()
        cursor.row_factory = None  # plain tuples, unpacked in JSON_COLUMNS order
        return jobs_json(self._rows(statuses, None, None, JSON_COLUMNS, cursor))

    def list_json_text(self, statuses: Sequence[str] | None = None) -> str:
        """``json.dumps(list_json(statuses))``, written as text row by row (``ls --json``)."""
        from jobcore.state.json_text import jobs_json_text

        return jobs_json_text(self.conn, statuses)

    def _rows(
        self,
        statuses: Sequence[str] | None,
        limit: int | None,
        name: str | None,
        columns: str = "*",
        cursor: sqlite3.Cursor | None = None,
    ) -> sqlite3.Cursor:
        sql = f"SELECT {columns} FROM jobs"
        where: list[str] = []
        args: list[Any] = []
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args.extend(statuses)
        if name is not None:
            where.append("name = ?")
            args.append(name)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return (cursor or self.conn.cursor()).execute(sql, args)

    def active_jobs(self) -> list[Job]:
        return self.list_jobs(ACTIVE_STATUSES)

    def active_workers(self) -> list[ProcessIdentity]:
        """The recorded workers of active jobs: the few running, never the many waiting."""
        rows = self.conn.execute(
            "SELECT worker_pid, worker_start, boot_id FROM jobs"
            " WHERE status IN (?, ?) AND worker_pid IS NOT NULL",
            ACTIVE_STATUSES,
        )
        return [ProcessIdentity(pid, start, boot or "") for pid, start, boot in rows]

    def update(self, job_id: str, **fields: Any) -> None:
        """Set columns of one job in its own write transaction: never those whose changes
        ``jobcore.state.transitions`` owns (status, worker, claim, stop request)."""
        with self.write() as conn:
            update_in(conn, job_id, fields)

    def delete_job(self, job_id: str, *, unlaunched: bool = False) -> bool:
        """Remove a job's rows; ``unlaunched``: only while its launcher still holds it, not
        yet written in full (``NEW_CLAIM``, no worker). Whether it was removed."""
        held = f" AND claim = '{NEW_CLAIM}' AND worker_pid IS NULL" if unlaunched else ""
        with self.write() as conn:
            if not conn.execute(f"DELETE FROM jobs WHERE id = ?{held}", (job_id,)).rowcount:
                return False
            for table in ("samples", "items", "events"):
                conn.execute(f"DELETE FROM {table} WHERE job_id = ?", (job_id,))
        return True

    def finish_if_active(
        self,
        job_id: str,
        status: JobStatus,
        reason: str | None,
        *,
        expect_worker: ProcessIdentity | None,
        exit_code: int | None = None,
        paused_until: float | None = None,
        actor: str = "worker",
    ) -> bool:
        """``transitions.finish_if_active`` in its own write transaction."""
        end = transitions.Finish(status, reason, exit_code, paused_until)
        with self.write() as conn:
            return transitions.finish_if_active(
                conn, job_id, end, expect_worker=expect_worker, actor=actor
            )

    def record_progress(
        self,
        job_id: str,
        *,
        done: int | None = None,
        advance: int = 0,
        total: int | None = None,
        item: str | None = None,
        errors: int = 0,
    ) -> None:
        """Apply one progress update in its own transaction (see ``apply_progress``)."""
        with self.write() as conn:
            apply_progress(
                conn, job_id, done=done, advance=advance, total=total, item=item, errors=errors
            )

    def record_item_progress(
        self,
        job_id: str,
        idx: int,
        *,
        done: int | None = None,
        advance: int = 0,
        total: int | None = None,
        note: str | None = None,
    ) -> None:
        """A batch item's own progress (inside it), kept beside the item: ``done`` sets the
        count, ``advance`` adds to it, a total below done grows to done."""
        with self.write() as conn:
            row = conn.execute(
                "SELECT progress_done, progress_total FROM items WHERE job_id = ? AND idx = ?",
                (job_id, idx),
            ).fetchone()
            if row is None:
                raise JobcoreError(f"no item {idx} in job {job_id}")
            new_done = max(0, (row[0] or 0 if done is None else done) + advance)
            new_total = row[1] if total is None else max(0, total)
            if new_total is not None and new_done > new_total:
                new_total = new_done
            conn.execute(
                "UPDATE items SET progress_done = ?, progress_total = ?,"
                " progress_note = COALESCE(?, progress_note) WHERE job_id = ? AND idx = ?",
                (new_done, new_total, None if note is None else note[:500], job_id, idx),
            )

    def samples(self, job_id: str) -> list[tuple[float, int]]:
        """The recent (wall time, done) samples of a job, oldest first (rate sparklines).

        Stored on the boot clock; shown as wall times counted back from now, so a step of
        the wall clock moves them all together and leaves their spacing true.
        """
        at = clock.now()
        offset = clock.wall() - at.t
        rows = self.conn.execute(
            "SELECT t, done FROM samples WHERE job_id = ? AND boot = ? ORDER BY t",
            (job_id, at.boot),
        ).fetchall()
        return [(r[0] + offset, r[1]) for r in rows]

    def queued_for(self, job_id: str) -> float | None:
        """Seconds since the job was last queued, on the boot clock: inf if that was in an
        earlier boot, None if the jobcore that queued it did not record it."""
        row = self.conn.execute(
            "SELECT queued_clock, queued_boot FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
        if row is None or row[0] is None:
            return None
        waited = clock.elapsed(clock.Stamp(row[1], row[0]))
        return float("inf") if waited is None else waited

    def status_of(self, job_id: str) -> str:
        """A job's status as text, ``gone`` for one that no longer exists."""
        row = self.conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return "gone" if row is None else str(row[0])

    def count_jobs(self, statuses: Iterable[JobStatus]) -> int:
        wanted = [s.value for s in statuses]
        return int(
            self.conn.execute(
                f"SELECT COUNT(*) FROM jobs WHERE status IN ({','.join('?' * len(wanted))})",
                wanted,
            ).fetchone()[0]
        )

    def has_groups(self) -> bool:
        """Whether any group besides ``default`` exists (``ls`` shows a GROUP column then)."""
        found = self.conn.execute("SELECT 1 FROM groups WHERE name != 'default' LIMIT 1")
        return found.fetchone() is not None

    def data_version(self) -> int:
        """Changes when another connection commits: a cheap "did anything change?" probe."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]


def update_in(conn: sqlite3.Connection, job_id: str, fields: dict[str, Any]) -> None:
    """UPDATE one job's columns inside a caller's transaction (never those that
    ``jobcore.state.transitions`` owns)."""
    if not fields:
        return
    owned = OWNED_COLUMNS.intersection(fields)
    if owned:
        raise ValueError(f"{', '.join(sorted(owned))} change through jobcore.state.transitions")
    cols = ", ".join(f"{key} = ?" for key in fields)
    conn.execute(f"UPDATE jobs SET {cols} WHERE id = ?", [*fields.values(), job_id])
