"""Start a claimed job's detached worker: forked from this process, or spawned afresh.

The worker gets a new session (it survives the terminal closing and SIGHUP to the launcher's
group), /dev/null as stdin and the job log as stdout/stderr: a worker left writing to a closed
terminal dies of EIO on its next print. The starter records the worker's identity right after
starting it; the worker records it too, so a starter killed at any moment leaves no job that
looks alive but has no process.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from jobcore.base.errors import JobcoreError
from jobcore.ops import spare
from jobcore.procs import forking
from jobcore.procs.identity import identity_of
from jobcore.state import transitions
from jobcore.state.database import keep_wal
from jobcore.state.models import JobStatus
from jobcore.state.paths import ENV_JOB, JOB_MARKERS, StateDir, disk_error, open_private
from jobcore.state.store import Store

if TYPE_CHECKING:
    from jobcore.worker.worker import FollowUps

WORKER_NAME = "jobcore-{job_id}"
"""A forked worker's process name (``ps``, ``pgrep jobcore-``); its command line reads
``jobcore-worker JOB_ID STATE_DIR`` (a spawned one runs ``python -m jobcore.worker STATE_DIR
JOB_ID``)."""

_spawned: list[int] = []
"""Workers started here: polled so long-lived callers (the dashboard) leave no zombies."""


def worker_env(state: StateDir, job_id: str) -> dict[str, str]:
    """Our environment for a new worker, with its own job's marker instead of ours.

    Launched from inside a job (``jobcore run`` in its command, ``jobcore.submit()`` in a
    batch function), the new worker must not pass for a process of that job: its sweeps
    would kill it as a leftover. Marked as its own job, it is also what their tree walk
    leaves out, with everything under it.
    """
    env = {name: value for name, value in os.environ.items() if name not in JOB_MARKERS}
    env[ENV_JOB] = state.job_marker(job_id)
    return env


SLOT_FD = 3
"""Where a worker finds its job's group slot (a flock'ed descriptor) when it has one."""


def spawn_worker(
    state: StateDir,
    store: Store,
    job_id: str,
    *,
    claim: str,
    follow_ups: FollowUps,
    slot_fd: int | None = None,
) -> None:
    """Start a detached worker for a job claimed with ``claim`` and record who it is.

    A fork of this process where ``jobcore.procs.forking`` allows it, else ``python -m
    jobcore.worker`` through posix_spawn (docs/decisions/0004-fork-the-worker.md); the slot
    reaches it as SLOT_FD (docs/decisions/0005-group-slot-is-an-inherited-flock.md). Only the
    three standard streams reach the worker's command (``worker._close_inherited_fds``). A
    forked worker runs ``follow_ups`` when its job ends; a spawned one gets the same from its
    program (``jobcore.ops.worker_process``).
    """
    forking.reap_exited(_spawned)
    try:
        log_fd = open_private(
            state.log_path(job_id), os.O_WRONLY | os.O_APPEND | os.O_CREAT, state.root
        )
    except (OSError, JobcoreError) as exc:
        error = exc if isinstance(exc, JobcoreError) else disk_error(exc, "cannot open the log")
        store.finish_if_active(job_id, JobStatus.FAILED, str(error), expect_worker=None)
        raise error from exc
    null_fd = os.open(os.devnull, os.O_RDONLY)
    try:
        env = worker_env(state, job_id)
        stdio = (log_fd, null_fd)
        kept = spare.take_kept(state, follow_ups)
        if kept is not None and kept.hand(job_id, claim, slot_fd, stdio):
            pid = kept.pid
        elif forking.safe() and forking.fits(env):
            job = (state, job_id, claim, slot_fd, stdio, follow_ups)
            argv = ["jobcore-worker", job_id, str(state.root)]
            pid = fork_detached(state, store, env, argv, functools.partial(_become_worker, *job))
        else:
            pid = _spawn_worker(state, job_id, claim, slot_fd, log_fd, null_fd)
    except OSError as exc:
        store.finish_if_active(
            job_id, JobStatus.FAILED, f"cannot start worker: {exc}", expect_worker=None
        )
        raise JobcoreError(f"cannot start worker: {exc.strerror or exc}") from exc
    finally:
        os.close(log_fd)
        os.close(null_fd)
    _spawned.append(pid)
    if ENV_JOB in os.environ:  # launched from inside a job: maybe in that job's cgroup
        from jobcore.procs.cgroup import settle_worker

        settle_worker(pid)
    identity = identity_of(pid)
    with store.write() as conn:
        if identity is not None:
            transitions.record_worker(conn, job_id, identity)
        else:  # gone before either recorded it (a spare killed): it started nothing
            transitions.release_claim(conn, job_id, claim)


def _spawn_worker(
    state: StateDir, job_id: str, claim: str, slot_fd: int | None, log_fd: int, null_fd: int
) -> int:
    """Start ``python -m jobcore.worker`` for the job; returns its pid."""
    argv = [sys.executable, "-m", "jobcore.worker", str(state.root), job_id, claim]
    actions = [
        (os.POSIX_SPAWN_DUP2, null_fd, 0),
        (os.POSIX_SPAWN_DUP2, log_fd, 1),
        (os.POSIX_SPAWN_DUP2, log_fd, 2),
    ]
    slot_copy = None
    if slot_fd is not None:
        # dup2 onto itself would leave it close-on-exec: hand over a copy at another number
        slot_copy = fcntl.fcntl(slot_fd, fcntl.F_DUPFD_CLOEXEC, SLOT_FD + 1)
        actions.append((os.POSIX_SPAWN_DUP2, slot_copy, SLOT_FD))
        argv.append(str(SLOT_FD))
    try:
        return os.posix_spawn(
            sys.executable, argv, worker_env(state, job_id), file_actions=actions, setsid=True
        )
    finally:
        if slot_copy is not None:
            os.close(slot_copy)


def name_process(name: str) -> None:
    """What ``ps``, ``top`` and ``pgrep`` call this process (its argv stays the launcher's)."""
    with contextlib.suppress(OSError):
        fd = os.open("/proc/self/comm", os.O_WRONLY)
        try:
            os.write(fd, name.encode())
        finally:
            os.close(fd)


def fork_detached(
    state: StateDir, store: Store, env: dict[str, str], argv: list[str], body: Callable[[], int]
) -> int:
    """Fork a detached child that runs ``body`` and exits; returns its pid. ``store``'s
    connection is closed across the fork (SQLite forbids using one in two processes) and
    open again when this returns. The child has ``env`` (with its marker) and ``argv`` from
    its first instant (``forking.fork_as``)."""
    for stream in (sys.stdout, sys.stderr):  # or the child would write our buffered text too
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    keep_wal(state.db_path)  # so this close, the last one maybe, leaves the WAL be
    store.close()
    try:
        pid = forking.fork_as(env, argv)
        if pid == 0:
            forking.run_detached(body)
    finally:
        store.connect()  # only the parent gets here: the child never returns
    return pid


def _become_worker(
    state: StateDir,
    job_id: str,
    claim: str,
    slot_fd: int | None,
    stdio: tuple[int, int],
    follow_ups: FollowUps,
) -> int:
    """In a worker forked for its job, detached and marked as ``job_id``'s: run the job with
    its log as stdout and stderr (it closes all else it inherited); its exit code."""
    take_stdio(job_id, stdio)
    from jobcore.worker.worker import serve  # only in a forked worker

    return serve(str(state.root), job_id, claim, slot_fd, forked=True, follow_ups=follow_ups)


def take_stdio(job_id: str, stdio: tuple[int, int]) -> None:
    """Named as ``job_id``'s worker, with ``/dev/null`` as stdin and the job's log as
    stdout and stderr (``stdio``: the log's descriptor and /dev/null's)."""
    log_fd, null_fd = stdio
    name_process(WORKER_NAME.format(job_id=job_id))
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__  # not a starter's capture
