"""The SQLite store: schema, migrations, transactions and the queries everything else uses.

Many processes write at once (workers, `jobcore progress`, the CLI, the dashboard's actions), so:
WAL, a busy timeout, autocommit mode with explicit ``BEGIN IMMEDIATE`` for every write (a deferred
BEGIN that upgrades from read to write gets SQLITE_BUSY at once, bypassing the busy handler), and
``synchronous=NORMAL`` (durable at checkpoints, never corrupt).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobcore.base import clock
from jobcore.base.errors import JobcoreError, StoreUnavailable, UsageError
from jobcore.base.rate import eta_seconds, rate_from_samples
from jobcore.state import transitions
from jobcore.state.models import (
    ACTIVE_STATUSES,
    JSON_COLUMNS,
    Job,
    JobStatus,
    ProcessIdentity,
    QueueSpec,
    jobs_json,
)
from jobcore.state.paths import StateDir
from jobcore.state.patience import Patience
from jobcore.state.transitions import NEW_CLAIM, record_event

ENV_BUSY_TIMEOUT = "JOBCORE_BUSY_TIMEOUT_MS"
"""Overrides BUSY_TIMEOUT_MS (tests hold a lock for seconds, not half a minute)."""


def _busy_timeout_ms() -> int:
    """How long a write waits for another process's write lock before it fails."""
    value = os.environ.get(ENV_BUSY_TIMEOUT, "")
    return int(value) if value.isdigit() and 0 < int(value) <= 3_600_000 else 30_000


BUSY_TIMEOUT_MS = _busy_timeout_ms()
ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: ids are read aloud and typed
ID_LENGTH = 5
WAL_SIZE_LIMIT = 64 * 1024 * 1024
"""Checkpoints truncate the WAL back to this size, so a busy day does not leave it huge."""
BRIEF_WAIT_MS = 50
"""What a write that may lag (progress) waits for the lock before it is kept for later."""
OWNED_COLUMNS = frozenset(
    {"status", "worker_pid", "worker_start", "claim", "stop_request", "stop_signalled"}
)
"""Columns only ``jobcore.state.transitions`` writes."""
SAMPLES_KEPT = 120
SAMPLE_SPACING_S = 0.5

# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        name TEXT,
        command TEXT NOT NULL,
        cwd TEXT NOT NULL,
        env TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL,
        reason TEXT,
        created_at REAL NOT NULL,
        queued_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        exit_code INTEGER,
        worker_pid INTEGER,
        worker_start REAL,
        cmd_pid INTEGER,
        cmd_start REAL,
        boot_id TEXT,
        stop_request TEXT,
        total INTEGER,
        done INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        current_item TEXT,
        rate REAL,
        eta_s REAL,
        progress_at REAL
    );
    CREATE INDEX jobs_status ON jobs(status);
    CREATE INDEX jobs_name ON jobs(name);
    CREATE TABLE samples (
        job_id TEXT NOT NULL,
        t REAL NOT NULL,
        done INTEGER NOT NULL
    );
    CREATE INDEX samples_job ON samples(job_id, t);
    """,
    """
    ALTER TABLE jobs ADD COLUMN spec TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE jobs ADD COLUMN paused_until REAL;
    CREATE TABLE items (
        job_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        item TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        exit_code INTEGER,
        error TEXT,
        result TEXT,
        started_at REAL,
        finished_at REAL,
        duration REAL,
        not_before REAL,
        forgotten INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (job_id, idx)
    );
    CREATE INDEX items_by_status ON items(job_id, status, idx);
    CREATE INDEX items_failed ON items(status, finished_at);
    """,
    """
    CREATE TABLE groups (name TEXT PRIMARY KEY, parallel INTEGER);
    INSERT INTO groups (name, parallel) VALUES ('default', NULL);
    ALTER TABLE jobs ADD COLUMN grp TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN after TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE jobs ADD COLUMN not_before REAL;
    ALTER TABLE jobs ADD COLUMN waiting_on TEXT;
    CREATE INDEX jobs_group ON jobs(grp, status);
    """,
    """
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL,
        t REAL NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT
    );
    CREATE INDEX events_job ON events(job_id, seq);
    ALTER TABLE jobs ADD COLUMN on_done TEXT;
    ALTER TABLE jobs ADD COLUMN redact TEXT NOT NULL DEFAULT '[]';
    """,
    # Partial indexes: an item going pending -> running -> done touches one index entry, not
    # four (the commit per scheduler pass was most of a fast batch's cost).
    """
    DROP INDEX items_by_status;
    DROP INDEX items_failed;
    CREATE INDEX items_pending ON items(job_id, idx) WHERE status = 'pending';
    CREATE INDEX items_failed_by_job ON items(job_id, finished_at) WHERE status = 'failed';
    CREATE INDEX items_failed_at ON items(finished_at) WHERE status = 'failed';
    """,
    # Durations that must hold across processes are measured on the boot clock, not the
    # wall clock (a step of the clock voided them): see jobcore.base.clock. queued_at stays the
    # wall time shown to people; an item's not_before (never shown) and a sample's t become
    # boot-clock seconds of the boot named beside them (old wall-clock values are dropped:
    # an item's pending backoff ends at once, a rate is measured afresh).
    """
    ALTER TABLE jobs ADD COLUMN queued_clock REAL;
    ALTER TABLE jobs ADD COLUMN queued_boot TEXT;
    ALTER TABLE items ADD COLUMN not_before_boot TEXT;
    UPDATE items SET not_before = NULL WHERE not_before IS NOT NULL;
    DELETE FROM samples;
    ALTER TABLE samples ADD COLUMN boot TEXT NOT NULL DEFAULT '';
    """,
    # A stop's grace reaches the batch worker that stops the items; ``stop_signalled`` says
    # the stop signalled the command, so a command that ended by itself keeps its ending.
    """
    ALTER TABLE jobs ADD COLUMN stop_grace REAL;
    ALTER TABLE jobs ADD COLUMN stop_signalled INTEGER NOT NULL DEFAULT 0;
    """,
    # What is shown of a job's command line and callback, masked by its Redactor at launch
    # (the clear ones stay in command/on_done for the worker only). NULL: a job from before,
    # masked by shape when shown.
    """
    ALTER TABLE jobs ADD COLUMN masked TEXT;
    """,
    # A running item's own progress (what ``jobcore progress``, ``progress()`` or a tqdm bar
    # report inside it), kept beside the item so the batch's counts stay the batch's; and
    # the seconds a job ran in its earlier legs, so ``elapsed`` counts every resume; a failed
    # one-command job hidden from ``failures`` (``--forget``), as failed items are.
    """
    ALTER TABLE items ADD COLUMN progress_done INTEGER;
    ALTER TABLE items ADD COLUMN progress_total INTEGER;
    ALTER TABLE items ADD COLUMN progress_note TEXT;
    ALTER TABLE jobs ADD COLUMN run_s REAL NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN forgotten INTEGER NOT NULL DEFAULT 0;
    UPDATE jobs SET run_s = MAX(0, finished_at - started_at)
        WHERE finished_at IS NOT NULL AND started_at IS NOT NULL;
    """,
    # A waiting job is a row, started by whoever finds its turn come (jobcore.ops.dispatch):
    # ``claim`` is the token of the start under way and ``claimer_*`` who makes it (a claim
    # whose claimer died before a worker was recorded goes back in line); ``due_*`` is when
    # a self-paused job resumes, on the boot clock (``paused_until`` is what people see).
    """
    ALTER TABLE jobs ADD COLUMN claim TEXT;
    ALTER TABLE jobs ADD COLUMN claimer_pid INTEGER;
    ALTER TABLE jobs ADD COLUMN claimer_start REAL;
    ALTER TABLE jobs ADD COLUMN claimer_boot TEXT;
    ALTER TABLE jobs ADD COLUMN due_clock REAL;
    ALTER TABLE jobs ADD COLUMN due_boot TEXT;
    CREATE INDEX jobs_waiting ON jobs(grp, priority DESC, seq) WHERE status = 'queued';
    """,
    # ``held``: queued by ``run --hold``, it starts only when ``release``d or ``start``ed;
    # ``front``: ``jobcore start`` put it at the head of its group's line.
    """
    ALTER TABLE jobs ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN front INTEGER NOT NULL DEFAULT 0;
    """,
    # ``group pause``: none of the group's waiting jobs starts until ``group resume``.
    """
    ALTER TABLE groups ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def new_id() -> str:
    """A random short id from ID_ALPHABET (os.urandom: the secrets module is slow to import)."""
    return "".join(ID_ALPHABET[b % len(ID_ALPHABET)] for b in os.urandom(ID_LENGTH))


def _db_error(exc: sqlite3.Error, path: os.PathLike[str] | str) -> JobcoreError:
    """One line for the ways a database can be unusable, with what to do about it."""
    text = str(exc)
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreUnavailable(
            f"state database {path} is locked: another process has held its write lock for "
            f"{BUSY_TIMEOUT_MS / 1000:g}s; try again (running jobs wait for it)"
        )
    if code in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR):
        return StoreUnavailable(
            f"cannot write {path}: the disk is full (nothing was changed)"
            if code == sqlite3.SQLITE_FULL or "full" in text
            else f"cannot write state database {path}: {text}"
        )
    if "not a database" in text or "malformed" in text:
        return JobcoreError(
            f"state database {path} is corrupt ({text}); move it aside to start afresh"
        )
    if "disk is full" in text or "disk I/O" in text:
        return JobcoreError(f"cannot write {path}: the disk is full (nothing was changed)")
    if "readonly" in text or "unable to open" in text:
        return JobcoreError(f"cannot write state database {path}: {text}")
    return JobcoreError(f"state database {path}: {text}")


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
        path = self.state.db_path
        try:
            _create_private(path)
            self.conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            self.conn.row_factory = sqlite3.Row
            self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._use_wal()
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.Error as exc:
            raise _db_error(exc, path) from exc
        except OSError as exc:
            raise JobcoreError(f"cannot open state database {path}: {exc.strerror}") from exc

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
            raise _db_error(exc, self.state.db_path) from exc
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _db_error(exc, self.state.db_path) from exc
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

    def _use_wal(self) -> None:
        """Put the file in WAL mode, waiting for any other process doing the same.

        Turning a new file from its rollback journal to WAL fails at once with SQLITE_BUSY, the
        busy handler never called, while another connection holds a rollback-mode write lock:
        exactly what every other process creating the state at that moment holds. So this waits
        here as the busy timeout would. Once the file is WAL it stays WAL and this is one pragma.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        pause = 0.001
        while True:
            try:
                if self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal":
                    return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
            if time.monotonic() > deadline:
                raise sqlite3.OperationalError("database is locked (cannot switch it to WAL)")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JobcoreError(
                f"state database {self.state.db_path} was written by a newer jobcore "
                f"(schema {version}, this version knows {SCHEMA_VERSION}); upgrade jobcore"
            )
        if version == SCHEMA_VERSION:
            return
        with self.write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for index in range(version, SCHEMA_VERSION):
                for statement in _split_sql(MIGRATIONS[index]):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

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
    ) -> Job:
        """Insert a new queued job with a fresh short id (retrying the rare collision).

        ``held_by``: the job is created claimed by that process (its launcher), so no starter
        takes it before its folder is written; the launcher lets go with ``release_new``.

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
            for _ in range(20):
                job_id = new_id()
                try:
                    conn.execute(
                        "INSERT INTO jobs (id, name, command, cwd, env, status, created_at,"
                        " queued_at, spec, grp, priority, after, not_before, on_done, redact,"
                        " queued_clock, queued_boot, masked, claim, claimer_pid, claimer_start,"
                        " claimer_boot, held, waiting_on)"
                        " VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                        " ?, ?, ?, ?, ?, ?)",
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

    def update(self, job_id: str, **fields: Any) -> None:
        """Set columns of one job in its own write transaction: never those whose changes
        ``jobcore.state.transitions`` owns (status, worker, claim, stop request)."""
        with self.write() as conn:
            update_in(conn, job_id, fields)

    def delete_job(self, job_id: str) -> None:
        with self.write() as conn:
            conn.execute("DELETE FROM samples WHERE job_id = ?", (job_id,))
            conn.execute("DELETE FROM items WHERE job_id = ?", (job_id,))
            conn.execute("DELETE FROM events WHERE job_id = ?", (job_id,))
            conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))

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

    def data_version(self) -> int:
        """Changes when another connection commits: a cheap "did anything change?" probe."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]


def apply_progress(
    conn: sqlite3.Connection,
    job_id: str,
    *,
    done: int | None = None,
    advance: int = 0,
    total: int | None = None,
    item: str | None = None,
    errors: int = 0,
    errors_total: int | None = None,
) -> None:
    """Apply one progress update inside the caller's transaction; refresh rate and ETA.

    ``done`` sets the count, ``advance`` adds to it; ``errors`` adds failures, ``errors_total``
    sets them. A total smaller than done grows to done (totals may grow, and done never
    exceeds a known total). A (time, done) sample is kept at most every SAMPLE_SPACING_S,
    timed on the boot clock (a rate over a step of the wall clock would be nonsense).
    """
    at = clock.now()
    now = at.t
    row = conn.execute(
        "SELECT done, total, errors, rate FROM jobs WHERE id = ?", (job_id,)
    ).fetchone()
    if row is None:
        raise JobcoreError(f"no job with id {job_id!r}")
    new_done = max(0, (row["done"] if done is None else done) + advance)
    new_total = row["total"] if total is None else max(0, total)
    if new_total is not None and new_done > new_total:
        new_total = new_done
    last = conn.execute(
        "SELECT t FROM samples WHERE job_id = ? AND boot = ? ORDER BY t DESC LIMIT 1",
        (job_id, at.boot),
    ).fetchone()
    rate = row["rate"]
    if last is None or now - last[0] >= SAMPLE_SPACING_S:
        # The rate is measured when a sample is taken; in between (a fast batch records many
        # items per sample) the last rate stands and only the counts and the ETA move.
        recent = conn.execute(
            "SELECT t, done FROM samples WHERE job_id = ? AND boot = ? AND t < ?"
            " ORDER BY t DESC LIMIT 30",
            (job_id, at.boot, now),
        ).fetchall()
        points = [(r[0], r[1]) for r in reversed(recent)] + [(now, new_done)]
        rate = rate_from_samples(points, now)
        if last is None:  # samples of an earlier boot measure nothing now
            conn.execute("DELETE FROM samples WHERE job_id = ? AND boot != ?", (job_id, at.boot))
        conn.execute(
            "INSERT INTO samples (job_id, t, done, boot) VALUES (?, ?, ?, ?)",
            (job_id, now, new_done, at.boot),
        )
        conn.execute(
            "DELETE FROM samples WHERE job_id = ? AND t < (SELECT t FROM samples"
            " WHERE job_id = ? ORDER BY t DESC LIMIT 1 OFFSET ?)",
            (job_id, job_id, SAMPLES_KEPT - 1),
        )
    fields: dict[str, Any] = {
        "done": new_done,
        "total": new_total,
        "errors": (row["errors"] + errors) if errors_total is None else errors_total,
        "rate": rate,
        "eta_s": eta_seconds(new_done, new_total, rate),
        "progress_at": clock.wall(),
    }
    if item is not None:  # shown only: bytes that are not UTF-8 (an item's) become U+FFFD
        fields["current_item"] = (
            item[:500].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        )
    update_in(conn, job_id, fields)


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


def _create_private(path: Path) -> None:
    """Create the database file 0600 before SQLite does (it would follow the umask).

    Only when it does not exist yet: closing any descriptor of an SQLite file drops every
    POSIX lock this process holds on it, so an open/close next to a live connection would
    let other processes checkpoint and reset the WAL under that connection's feet.
    """
    if path.is_symlink():  # SQLite would follow it (and its -wal beside the target)
        raise JobcoreError(f"refusing {path}: it is a symlink; move it aside")
    if path.exists():
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))


def _split_sql(script: str) -> list[str]:
    """Statements of a migration script (executescript would commit our transaction)."""
    return [s.strip() for s in script.split(";") if s.strip()]
