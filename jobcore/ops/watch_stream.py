"""``jobcore ls --watch --json``: the state folder as a stream of JSON lines, read elsewhere.

A dashboard on another machine runs this through ssh and reads one object per line: a full
snapshot at once, a new one each time a commit changed the state, and a heartbeat when nothing
changed for ``heartbeat`` seconds, so the reader can tell a quiet host from a dead connection.
Changes are noticed as the dashboard notices them: file events on the state folder are hints,
``PRAGMA data_version`` on one long-lived connection says whether anything was committed, and a
slow look at it covers events that never come (NFS). The liveness check runs every few seconds,
so a job whose worker died is reported failed without anyone else looking.

The stream ends with exit 0 as soon as its reader goes away: the main loop also waits on stdout
itself, which reports an error (POLLERR/POLLHUP) once the pipe's other end is closed.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from jobcore.state.json_rows import JSON_COLUMNS, jobs_json
from jobcore.state.models import JobStatus
from jobcore.state.paths import DB_NAME
from jobcore.state.store import Store

SCHEMA = 1
"""The version of the line format; a reader refuses lines of a newer one it does not know."""
ENV_HEARTBEAT = "JOBCORE_WATCH_HEARTBEAT"
"""Default heartbeat interval in seconds, when ``--heartbeat`` is not given."""
HEARTBEAT_S = 2.0
VERSION_POLL_S = 1.0
"""A look at ``data_version`` this often whatever the file events say (they can be lost)."""
LIVENESS_S = 2.0
"""The liveness check (dead workers turn failed) and the dispatcher check, as ``ls`` does."""
MIN_GAP_S = 0.02
"""A burst of commits is sent as one snapshot: the next look waits this long after a line."""
ACTIVE_PAGE = 200
"""Jobs sent per active status (running, queued, paused), newest first."""
FINISHED_PAGE = 20
"""Finished jobs sent per final status, newest first; ``counts`` gives the real totals."""


def _snapshot(store: Store) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """A page of jobs per status (as ``ls --json`` shows them, plus ``seq`` and ``run_s``)
    and how many jobs each status really has, in one read transaction."""
    conn = store.conn
    jobs: list[dict[str, Any]] = []
    conn.execute("BEGIN")
    try:
        counts = dict(conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall())
        for status in JobStatus:
            if not counts.get(status.value):
                continue
            limit = FINISHED_PAGE if status.is_final else ACTIVE_PAGE
            rows = conn.execute(
                f"SELECT seq, run_s, {JSON_COLUMNS} FROM jobs WHERE status = ?"
                " ORDER BY seq DESC LIMIT ?",
                (status.value, limit),
            ).fetchall()
            for row, shown in zip(rows, jobs_json(row[2:] for row in rows), strict=True):
                shown["seq"], shown["run_s"] = row[0], row[1]
                jobs.append(shown)
    finally:
        conn.execute("COMMIT")
    return jobs, counts


def _data_version(store: Store) -> int:
    return int(store.conn.execute("PRAGMA data_version").fetchone()[0])


def _watch_files(root: str, wake: Callable[[], None], stop: threading.Event) -> None:
    """File events on the database and its WAL call ``wake`` (a thread; hints only)."""
    try:
        from watchfiles import watch
    except ImportError:  # the slow look at data_version still finds every commit
        return
    names = {DB_NAME, f"{DB_NAME}-wal"}
    try:
        for _ in watch(
            root,
            watch_filter=lambda _change, path: os.path.basename(path) in names,
            debounce=50,
            step=10,
            stop_event=stop,
            rust_timeout=1000,
            recursive=False,
        ):
            wake()
    except (OSError, RuntimeError):  # no inotify watch left: the slow look remains
        return


class Stream:
    """Writes the lines of one ``ls --watch --json`` to a file descriptor."""

    def __init__(self, store: Store, fd: int, heartbeat: float) -> None:
        self.store = store
        self.fd = fd
        """Where lines go (stdout); when its reader is gone, the stream ends."""
        self.heartbeat = heartbeat
        self.host = socket.gethostname()
        self.seq = 0
        """Lines written so far: a reader sees a gap if one was lost."""
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # already woken
            os.write(self._wake_w, b"x")

    def _line(self, kind: str, **fields: Any) -> bool:
        """Write one line; False when the reader has gone away."""
        self.seq += 1
        head = {"schema": SCHEMA, "seq": self.seq, "kind": kind, "host": self.host}
        data = (json.dumps({**head, "clock": time.time(), **fields}) + "\n").encode()
        try:
            while data:
                data = data[os.write(self.fd, data) :]
        except (BrokenPipeError, ConnectionResetError):
            return False
        return True

    def run(self) -> None:
        """Snapshot, then a snapshot per change and heartbeats, until the reader goes away."""
        from jobcore.ops.dispatch import check

        stop = threading.Event()
        watcher = threading.Thread(
            target=_watch_files,
            args=(str(self.store.state.root), self._wake, stop),
            name="watch",
            daemon=True,
        )
        watcher.start()
        poller = select.poll()
        poller.register(self.fd, select.POLLERR | select.POLLHUP)
        poller.register(self._wake_r, select.POLLIN)
        version: int | None = None
        last_line = last_liveness = last_look = 0.0
        try:
            while True:
                now = time.monotonic()
                if now - last_liveness >= LIVENESS_S:
                    with contextlib.suppress(sqlite3.OperationalError):  # locked: next time
                        check(self.store)
                    last_liveness = now
                seen = _data_version(self.store)
                last_look = now
                if seen != version:
                    version = seen
                    jobs, counts = _snapshot(self.store)
                    version = _data_version(self.store)  # its own reads do not move it
                    kind = "snapshot"
                    if not self._line(kind, jobs=jobs, counts=counts):
                        return
                    last_line = time.monotonic()
                    time.sleep(MIN_GAP_S)
                elif now - last_line >= self.heartbeat:
                    if not self._line("heartbeat"):
                        return
                    last_line = now
                deadline = min(
                    last_line + self.heartbeat,
                    last_look + VERSION_POLL_S,
                    last_liveness + LIVENESS_S,
                )
                wait_ms = max(0, int((deadline - time.monotonic()) * 1000))
                for fd, events in poller.poll(wait_ms):
                    if fd == self.fd and events & (select.POLLERR | select.POLLHUP):
                        return
                    if fd == self._wake_r:
                        os.read(self._wake_r, 4096)
        finally:
            stop.set()


def run(store: Store, heartbeat: float | None) -> int:
    """``jobcore ls --watch --json``: stream to stdout until its reader goes away; exit 0."""
    from jobcore.base import limits

    if heartbeat is None:
        raw = os.environ.get(ENV_HEARTBEAT)
        try:
            heartbeat = HEARTBEAT_S if not raw else float(raw)
        except ValueError:
            from jobcore.base.errors import UsageError

            raise UsageError(f"{ENV_HEARTBEAT} expects seconds, got {raw!r}") from None
    limits.in_range("--heartbeat", heartbeat, 0.05, 3600.0)
    Stream(store, 1, heartbeat).run()
    return 0
