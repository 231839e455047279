"""Groups and their slots. Who starts a waiting job, and when, is ``jobcore.ops.dispatch``.

A turn needs three things: the job's start time has come (``--delay``/``--at``), every job
it runs ``--after`` has completed, and its group has a free slot. Within a group, jobs take
slots in line: highest priority first, then first come first.

A slot is a ``flock`` on a file in the state folder, inherited by the job's worker and command
(or batch items): the kernel frees it only when the last of them is gone, so a crashed job
never keeps one (docs/decisions/0005-group-slot-is-an-inherited-flock.md).
"""

from __future__ import annotations

import errno
import fcntl
import os
from typing import NamedTuple

from jobcore.base.errors import JobcoreError, UsageError
from jobcore.base.limits import MAX_PARALLEL, in_range
from jobcore.state.paths import StateDir, make_folder, open_folder
from jobcore.state.store import Store
from jobcore.state.transitions import WAITING

ENV_GROUP = "JOBCORE_GROUP"
ENV_SLOT = "JOBCORE_SLOT"
"""A running job of a limited group finds its group and slot number (0 to N-1) in these."""


class Group(NamedTuple):
    name: str
    parallel: int | None
    """At most this many of its jobs run at once; None is unlimited."""
    running: int
    queued: int
    paused: bool = False
    """``group pause``: none of its waiting jobs starts until ``group resume``."""

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "parallel": self.parallel,
            "running": self.running,
            "queued": self.queued,
            "paused": self.paused,
        }


def _check_name(name: str) -> None:
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise UsageError(f"a group name is letters, digits, '-', '_' or '.', got {name!r}")


def _check_parallel(parallel: int | None) -> None:
    """None is no limit; otherwise 1 to MAX_PARALLEL jobs of the group at once."""
    if parallel is not None:
        in_range("--parallel", parallel, 1, MAX_PARALLEL)


def add_group(store: Store, name: str, parallel: int | None) -> None:
    _check_name(name)
    _check_parallel(parallel)
    with store.write() as conn:
        if conn.execute("SELECT 1 FROM groups WHERE name = ?", (name,)).fetchone():
            raise JobcoreError(f"group {name!r} exists; change it with `jobcore group set`")
        conn.execute("INSERT INTO groups (name, parallel) VALUES (?, ?)", (name, parallel))


def set_group(store: Store, name: str, parallel: int | None) -> None:
    """Change a group's limit. Raising it lets waiting jobs start at once; lowering it never
    stops running jobs, it only holds new ones back until enough have ended."""
    _check_parallel(parallel)
    with store.write() as conn:
        if not conn.execute(
            "UPDATE groups SET parallel = ? WHERE name = ?", (parallel, name)
        ).rowcount:
            raise JobcoreError(f"no group {name!r}")


def remove_group(store: Store, name: str) -> None:
    """Drop a group; refused while any job of it is queued, running or paused (it would
    have no group to come back to). Its finished jobs keep its name."""
    if name == "default":
        raise JobcoreError("the default group cannot be removed")
    with store.write() as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM jobs WHERE grp = ? AND status IN ('queued', 'running', 'paused')",
            (name,),
        ).fetchone()
        if row[0]:
            raise JobcoreError(
                f"group {name!r} has {row[0]} queued, running or paused job(s); "
                f"`jobcore kill --group {name}` or wait for them first"
            )
        if not conn.execute("DELETE FROM groups WHERE name = ?", (name,)).rowcount:
            raise JobcoreError(f"no group {name!r}")


def list_groups(store: Store) -> list[Group]:
    rows = store.conn.execute(
        "SELECT g.name, g.parallel, g.paused,"
        " (SELECT COUNT(*) FROM jobs WHERE grp = g.name AND status = 'running') AS running,"
        " (SELECT COUNT(*) FROM jobs WHERE grp = g.name AND status = 'queued') AS queued"
        " FROM groups g ORDER BY g.name"
    ).fetchall()
    return [
        Group(r["name"], r["parallel"], r["running"], r["queued"], bool(r["paused"])) for r in rows
    ]


def pause_group(store: Store, name: str, paused: bool) -> None:
    """Hold back (or let go) every waiting job of a group; running jobs are not touched."""
    with store.write() as conn:
        if not conn.execute(
            "UPDATE groups SET paused = ? WHERE name = ?", (int(paused), name)
        ).rowcount:
            raise JobcoreError(f"no group {name!r}")


def group_limit(store: Store, name: str) -> int | None:
    row = store.conn.execute("SELECT parallel FROM groups WHERE name = ?", (name,)).fetchone()
    return row["parallel"] if row else None


def slot_index(fd: int) -> int | None:
    """The number of the slot file held open as ``fd`` (``3`` for ``slots/<group>/3.slot``):
    unique among the group's running jobs, so each can pick its own GPU by it."""
    try:
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return None
    number = name.removesuffix(".slot")
    return int(number) if name.endswith(".slot") and number.isdigit() else None


class SlotFiles:
    """The ``flock``-ed slot files of a group, taken under a short group-wide mutex.

    They live in ``slots/<group>/`` of the state folder, reached and opened without
    following a symlink (see ``jobcore.state.paths.open_folder``).
    """

    def __init__(self, state: StateDir, group: str) -> None:
        self.folder = state.slots_root / group
        self.root = state.root
        for folder in (state.slots_root, self.folder):
            make_folder(folder, state.root)

    def _open(self, dir_fd: int, name: str) -> int:
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            return os.open(name, flags, 0o600, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise JobcoreError(f"refusing {self.folder / name}: it is a symlink") from exc
            raise

    def take(self, limit: int) -> int | None:
        """Lock a free slot if fewer than ``limit`` are held; returns its fd (keep it open)."""
        dir_fd = open_folder(self.folder, self.root, tighten=True)
        try:
            return self._take(dir_fd, limit)
        finally:
            os.close(dir_fd)

    def _take(self, dir_fd: int, limit: int) -> int | None:
        mutex = self._open(dir_fd, "mutex")
        try:
            fcntl.flock(mutex, fcntl.LOCK_EX)
            held, free = 0, None
            names = os.listdir(dir_fd)
            indexes = {int(n[:-5]) for n in names if n.endswith(".slot") and n[:-5].isdigit()}
            for index in sorted(indexes | set(range(limit))):
                fd = self._open(dir_fd, f"{index}.slot")
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    held += 1
                    os.close(fd)
                    continue
                if free is None and index < limit:
                    free = fd
                else:
                    os.close(fd)
            if held >= limit and free is not None:
                os.close(free)
                free = None
            return free
        finally:
            os.close(mutex)


def place_in_line(store: Store, job_id: str) -> int | None:
    """A waiting job's place in its group's line (1: next), in the order starters claim
    (``start`` first, then priority, then age); None for a job not waiting in line (held,
    starting, running or ended). Held jobs are not ahead of anyone."""
    me = store.conn.execute(
        f"SELECT grp, front, priority, seq FROM jobs WHERE id = ? AND {WAITING}", (job_id,)
    ).fetchone()
    if me is None:
        return None
    ahead = store.conn.execute(
        f"SELECT COUNT(*) FROM jobs WHERE grp = ? AND {WAITING} AND (front > ?"
        " OR (front = ? AND (priority > ? OR (priority = ? AND seq < ?))))",
        (me["grp"], me["front"], me["front"], me["priority"], me["priority"], me["seq"]),
    ).fetchone()[0]
    return int(ahead) + 1
