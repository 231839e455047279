"""Waking the dispatcher: a byte into its FIFO, or a new one started where none runs.

One dispatcher per state folder holds ``LOCK_NAME`` (a flock); any process writes a byte to
``FIFO_NAME`` to say the queue changed
(docs/decisions/0006-dispatcher-sleeps-on-pidfds-and-a-fifo.md).
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import sys

from jobcore.base.errors import JobcoreError
from jobcore.procs.forking import reap_exited
from jobcore.state.paths import ENV_JOB, JOB_MARKERS, StateDir, open_folder, open_private

LOCK_NAME = "dispatch.lock"
"""Held (flock) by the one dispatcher of a state folder while it runs."""
FIFO_NAME = "dispatch.fifo"
"""Any process writes a byte here to wake the dispatcher: the queue changed."""
LOG_NAME = "dispatch.log"
"""The dispatcher's stdout and stderr (it writes only when something goes wrong)."""

_spawned: list[int] = []
"""Dispatchers started here: reaped later, so a long-lived caller leaves no zombies."""


def open_fifo(state: StateDir, flags: int) -> int:
    """Open the wake-up FIFO of the state folder (never through a symlink, never another's)."""
    dir_fd = open_folder(state.root, state.root)
    try:
        fd = os.open(FIFO_NAME, flags | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    st = os.fstat(fd)
    if not stat.S_ISFIFO(st.st_mode) or st.st_uid != os.getuid():
        os.close(fd)
        raise JobcoreError(f"refusing {state.root / FIFO_NAME}: not a FIFO of yours")
    return fd


def poke(state: StateDir) -> bool:
    """Wake the dispatcher; False if none listens."""
    try:
        fd = open_fifo(state, os.O_WRONLY)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.ENOENT, errno.ELOOP):
            return False
        raise
    try:
        os.write(fd, b"!")
    except BlockingIOError:
        pass  # full: it has plenty of wake-ups pending already
    finally:
        os.close(fd)
    return True


def open_lock(state: StateDir) -> int:
    return open_private(state.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, state.root)


def dispatcher_runs(state: StateDir) -> bool:
    """Whether a dispatcher holds the lock of the state folder."""
    fd = open_lock(state)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def dispatcher_marker(state: StateDir) -> str:
    """The dispatcher's ``JOBCORE_JOB``: a job's marker names ``<state>/jobs/<id>``, this one
    no job, so no job's sweep takes the dispatcher (or a worker it forks, until that worker
    marks itself) for one of its processes, even when it was started from inside a job."""
    return f"{os.path.realpath(state.root)}/{LOCK_NAME}"


def start_dispatcher(state: StateDir) -> None:
    """Start a dispatcher unless one runs, or one this process started is still starting
    (it may not hold the lock yet: a second would only find it taken and exit)."""
    reap_exited(_spawned)
    if not _spawned and not dispatcher_runs(state):
        spawn_dispatcher(state)


def spawn_dispatcher(state: StateDir) -> None:
    """Start the dispatcher detached (new session, stdio off the terminal), as
    ``python -m jobcore.ops.dispatcher STATE_DIR``; it exits at once if another runs."""
    log_fd = open_private(state.root / LOG_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, state.root)
    null_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    env = {name: value for name, value in os.environ.items() if name not in JOB_MARKERS}
    env[ENV_JOB] = dispatcher_marker(state)
    try:
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, "-m", "jobcore.ops.dispatcher", str(state.root)],
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, null_fd, 0),
                (os.POSIX_SPAWN_DUP2, log_fd, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
            ],
            setsid=True,
        )
    except OSError as exc:
        raise JobcoreError(f"cannot start the dispatcher: {exc.strerror or exc}") from exc
    finally:
        os.close(log_fd)
        os.close(null_fd)
    _spawned.append(pid)
    if ENV_JOB in os.environ:  # from inside a job: out of that job's cgroup
        from jobcore.procs.cgroup import settle_worker

        settle_worker(pid)
