"""Whether this process may start a job's worker as a fork of itself, and the fork that does.

A fork saves a worker its interpreter start and imports, but copies only the calling thread
and all the process holds: only a process that declared itself safe and is single-threaded
forks; others spawn (docs/decisions/0004-fork-the-worker.md).

A fork also copies what ``/proc/PID/environ`` shows, which is not ``os.environ`` but the
bytes the kernel put at the top of the stack at exec. Sweeps find a job's processes by the
marker there (docs/decisions/0007-job-marker-in-the-environment.md), so a worker forked
from a job's worker or from inside a job would pass for a process of that job. ``fork_as``
rewrites those bytes in place: the parent shows a marker of no job for the instant of the
fork, so the child is born marked as no job's, and the child writes its own job's
environment there before anything else (docs/decisions/0023-fork-rewrites-the-marker.md).
The parent rewrites through ``/proc/self/mem`` and imports no ctypes, which every ``jobcore``
command would pay (docs/decisions/0024-lean-run-path.md); the child, a worker that loads
ctypes anyway, uses it.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, NoReturn

from jobcore.state.paths import ENV_JOB

SIGNALS = tuple(int(signum) for signum in signal.valid_signals())
"""Every signal number, listed once: each ``valid_signals()`` call converts all of them to
enums again, a fifth of a millisecond in every worker that resets its handlers."""

_allowed = False


def reap_exited(pids: list[int]) -> None:
    """Collect the children in ``pids`` that have exited, dropping them from the list: a
    long-lived starter (the dashboard, a command that started several) leaves no zombies."""
    for pid in list(pids):
        try:
            done = os.waitpid(pid, os.WNOHANG)[0]
        except ChildProcessError:  # reaped already (a caller waiting on every child)
            done = pid
        if done:
            pids.remove(pid)


NO_JOB = f"{ENV_JOB}=\0".encode()
"""A marker entry that names no job: a sweep of any job leaves its bearer and (as another
job's) everything under it alone."""
MAX_GENERATIONS = 8
"""Forks of forks before a worker is spawned afresh: a fork runs on top of its parent's
Python stack, which would otherwise grow by a worker's depth with every job of a chain."""

generation = 0
"""How many forks this process is from an exec."""

_environ_copied = False
"""Whether the C library's environment is on the heap (``become`` put it there), no longer
in the bytes at the top of the stack that ``/proc/PID/environ`` shows."""


def allow() -> None:
    """Declare this process fork-safe: one thread, no connection or lock kept across a launch."""
    global _allowed
    _allowed = True


def safe() -> bool:
    """Whether a worker may be forked from here right now."""
    if not _allowed or generation >= MAX_GENERATIONS or _environ_area() is None:
        return False
    threading = sys.modules.get("threading")  # not imported: no thread was started through it
    return threading is None or threading.active_count() == 1


@functools.cache
def _areas() -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Where ``/proc/self/cmdline`` and ``/proc/self/environ`` read from: (address, size)
    each; None off Linux. A fork keeps its parent's address space, so the answer holds in
    every fork of this process."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            data = fh.read()
        fields = data[data.rindex(b")") + 2 :].split()
        # arg_start, arg_end, env_start, env_end (proc(5))
        bounds = [int(field) for field in fields[45:49]]
    except (OSError, ValueError, IndexError):
        return None
    if not 0 < bounds[0] < bounds[1] <= bounds[2] < bounds[3]:
        return None
    return (bounds[0], bounds[1] - bounds[0]), (bounds[2], bounds[3] - bounds[2])


def _environ_area() -> tuple[int, int] | None:
    areas = _areas()
    return None if areas is None else areas[1]


def _entries(env: dict[str, str], size: int) -> bytes | None:
    """``env`` as ``/proc/PID/environ`` shows it, the marker first, cut to whole entries
    that fit in ``size`` bytes and padded with NULs; None if not even the marker fits."""
    marker = env.get(ENV_JOB)
    if marker is None:
        return None
    out = bytearray(f"{ENV_JOB}={marker}\0".encode())
    if len(out) > size:
        return None
    for name, value in env.items():
        entry = f"{name}={value}\0".encode(errors="surrogateescape")
        if name != ENV_JOB and len(out) + len(entry) <= size:
            out += entry
    return bytes(out.ljust(size, b"\0"))


def fits(env: dict[str, str]) -> bool:
    """Whether a fork here can show ``env``'s marker in its ``/proc/PID/environ``."""
    area = _environ_area()
    return area is not None and _entries(env, area[1]) is not None


def fork_as(env: dict[str, str], argv: list[str]) -> int:
    """``os.fork()``, the child's environment becoming ``env`` (which holds its job marker)
    everywhere: ``os.environ``, the C library's, and ``/proc/PID/environ``; and what
    ``ps`` and ``pgrep -f`` see of its command line ``argv`` (cut to what fits), not its
    parent's (``pkill -f jobcore.ops.dispatcher`` must not reach the workers it forked).

    Call only where ``safe()`` and ``fits(env)``. The parent shows ``NO_JOB`` from just
    before the fork until it returns, so no instant exists at which the child shows the
    parent's marker: a sweep of the parent's job can never take it for one of its own.
    """
    area = _environ_area()
    assert area is not None
    start, size = area
    mem = _Memory()
    saved = mem.read(start, size)
    mem.write(start, NO_JOB.ljust(size, b"\0"))
    try:
        pid = os.fork()
    except BaseException:
        mem.write(start, saved)
        mem.close()
        raise
    if pid:
        mem.write(start, saved)
        mem.close()
        return pid
    mem.close()  # it reaches the parent's memory, not ours
    global generation
    generation += 1
    become(env, argv)
    return 0


def become(env: dict[str, str], argv: list[str]) -> None:
    """Make ``env`` (which holds a job marker) this process's environment everywhere, and
    ``argv`` its command line as ``ps`` shows it: what a fork does first (``fork_as``), and
    a spare worker when it is handed its job. Call only where ``fits(env)``."""
    areas = _areas()
    entries = None if areas is None else _entries(env, areas[1][1])
    assert areas is not None and entries is not None
    (at, room), (start, size) = areas
    import ctypes

    ctypes.memmove(start, entries, size)
    words = b"\0".join(word.encode(errors="surrogateescape") for word in argv)
    ctypes.memmove(at, words[: room - 1].ljust(room, b"\0"), room)  # ends in a NUL
    global _environ_copied
    if not _environ_copied:
        # The C library's environment still points into the bytes just rewritten: drop it
        # (clearenv), then set ``env`` afresh, copied onto the heap (``setenv``).
        ctypes.CDLL(None).clearenv()
        os.environ.clear()
        _environ_copied = True
    for name in os.environ.keys() - env.keys():
        del os.environ[name]
    for name, value in env.items():  # a spare handed its job: only the marker differs
        if os.environ.get(name) != value:
            os.environ[name] = value


_FRESH_HANDLERS: dict[int, Callable[[int, FrameType | None], Any] | int] = {
    signal.SIGINT: signal.default_int_handler,
    signal.SIGPIPE: signal.SIG_IGN,
    signal.SIGXFSZ: signal.SIG_IGN,
    signal.SIGHUP: signal.SIG_IGN,  # a worker's own: it outlives its terminal
}
"""A new worker's signal handlers, where not the default."""


def run_detached(body: Callable[[], int]) -> NoReturn:
    """In a forked child: detach as a spawned worker would be, run ``body`` and exit with
    its code, never returning into the starter's code; a crash is printed where the child's
    stderr goes (a job's log).

    Detached: a session of its own, and a fresh interpreter's signal handlers, as an exec
    would reset them (a worker's parent ignores SIGTERM once its own job is over). Nothing
    inherited from the starter is finalised here (``gc.freeze``): an object of its could
    own a descriptor number the child has reused by then.
    """
    code = 1
    try:
        gc.freeze()
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        os.setsid()
        for signum in SIGNALS:
            fresh = _FRESH_HANDLERS.get(signum, signal.SIG_DFL)
            with contextlib.suppress(OSError, ValueError):
                if signal.getsignal(signum) not in (fresh, None):
                    signal.signal(signum, fresh)
        code = body()
    except BaseException:
        with contextlib.suppress(BaseException):
            import traceback

            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class _Memory:
    """This process's memory through ``/proc/self/mem``, else (where that file cannot be
    written) through ctypes. The descriptor stays bound to the process that opened it."""

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open("/proc/self/mem", os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            self._fd = None

    def read(self, address: int, size: int) -> bytes:
        if self._fd is not None:
            try:
                data = os.pread(self._fd, size, address)
                if len(data) == size:
                    return data
            except OSError:
                pass
            self.close()
        import ctypes

        return ctypes.string_at(address, size)

    def write(self, address: int, data: bytes) -> None:
        if self._fd is not None:
            try:
                if os.pwrite(self._fd, data, address) == len(data):
                    return
            except OSError:
                pass
            self.close()
        import ctypes

        ctypes.memmove(address, data, len(data))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
