"""Opening the SQLite state database: WAL, busy timeout, private file, current schema.

Many processes write at once: WAL, a busy timeout and ``BEGIN IMMEDIATE`` for every write
(docs/decisions/0002-sqlite-wal-and-begin-immediate.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import struct
import time
from pathlib import Path

from jobcore.base.errors import JobcoreError, StoreUnavailable
from jobcore.state.schema import MIGRATIONS, SCHEMA_VERSION, split_sql

ENV_BUSY_TIMEOUT = "JOBCORE_BUSY_TIMEOUT_MS"
"""Overrides BUSY_TIMEOUT_MS (tests hold a lock for seconds, not half a minute)."""


def _busy_timeout_ms() -> int:
    """How long a write waits for another process's write lock before it fails."""
    value = os.environ.get(ENV_BUSY_TIMEOUT, "")
    return int(value) if value.isdigit() and 0 < int(value) <= 3_600_000 else 30_000


BUSY_TIMEOUT_MS = _busy_timeout_ms()

WAL_SIZE_LIMIT = 64 * 1024 * 1024
"""Checkpoints truncate the WAL back to this size, so a busy day does not leave it huge."""
BRIEF_WAIT_MS = 50
"""What a write that may lag (progress) waits for the lock before it is kept for later."""


SHARED_BYTES = (0x40000000 + 2, 510)
"""Where SQLite read-locks the database file while a connection is open (its PENDING_BYTE
+ 2, 510 bytes): a connection closing checkpoints and deletes the WAL only when it can
lock these for writing, that is when it is the last one."""

_wal_kept: dict[str, tuple[int, int]] = {}
"""The descriptor holding ``keep_wal``'s lock, by database, with the pid that took it."""


def keep_wal(path: Path) -> None:
    """Hold an open-file-description read lock on SQLite's shared bytes for as long as this
    process lives, so that no close of a connection (here or anywhere) checkpoints and
    deletes the WAL: a process that closes its store to fork a worker would otherwise do
    that, and reopen the WAL with two more fsyncs
    (docs/decisions/0027-keep-the-wal-across-a-fork.md).

    The descriptor is never closed: closing any descriptor of the database drops every
    lock this process's connections hold on it
    (docs/decisions/0018-never-close-a-database-descriptor.md). A forked child closes its
    copy and takes its own lock if it forks in turn.
    """
    held = _wal_kept.get(str(path))
    if held is not None and held[0] == os.getpid():
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return
    _wal_kept[str(path)] = (os.getpid(), fd)
    start, size = SHARED_BYTES
    with contextlib.suppress(OSError, AttributeError):  # no OFD locks: closes checkpoint
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", fcntl.F_RDLCK, 0, start, size, 0))


def open_database(path: Path) -> sqlite3.Connection:
    """A connection to the state database at ``path``, created 0600 and migrated if needed."""
    try:
        _create_private(path)
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _use_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        conn.execute("PRAGMA foreign_keys=ON")
        _migrate(conn, path)
    except sqlite3.Error as exc:
        raise db_error(exc, path) from exc
    except OSError as exc:
        raise JobcoreError(f"cannot open state database {path}: {exc.strerror}") from exc
    return conn


def db_error(exc: sqlite3.Error, path: os.PathLike[str] | str) -> JobcoreError:
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


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode, waiting as the busy timeout would for another process doing
    the same: SQLite fails that at once (docs/decisions/0003-wait-out-the-wal-switch.md)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.001
    while True:
        try:
            if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal":
                return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError("database is locked (cannot switch it to WAL)")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Run the migrations this database lacks, in one write transaction."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise JobcoreError(
            f"state database {path} was written by a newer jobcore "
            f"(schema {version}, this version knows {SCHEMA_VERSION}); upgrade jobcore"
        )
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for index in range(version, SCHEMA_VERSION):
            for statement in split_sql(MIGRATIONS[index]):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _create_private(path: Path) -> None:
    """Create the database file 0600 before SQLite does (it would follow the umask), only if
    it does not exist yet (docs/decisions/0018-never-close-a-database-descriptor.md)."""
    if path.is_symlink():  # SQLite would follow it (and its -wal beside the target)
        raise JobcoreError(f"refusing {path}: it is a symlink; move it aside")
    if path.exists():
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
