"""Start a command born in a cgroup (``clone3`` with ``CLONE_INTO_CGROUP``): no migration.

Moving a process into a cgroup waits for the kernel's RCU grace period once the cgroup code
has been idle a moment: ~10 ms here, on every job's start, against ~1 ms for the whole
spawn. A child cloned straight into its cgroup moves nothing
(docs/decisions/0026-command-born-in-its-cgroup.md). Python has no ``clone3``, so this
is the raw system call: the child runs a few lines of Python (descriptors, signals, exec)
and never returns to its parent's code. Used only by a single-threaded caller; where the
kernel or a seccomp filter refuses the call, ``start`` returns None and the caller falls
back to ``subprocess.Popen``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import gc
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from jobcore.procs.forking import SIGNALS

SYS_CLONE3 = 435
"""The same number on every Linux architecture (the generic system call table)."""
CLONE_INTO_CGROUP = 0x200000000
UNSUPPORTED = (errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.E2BIG)
"""What a kernel before 5.7 or a container's seccomp filter answers: use Popen instead."""


class _CloneArgs(ctypes.Structure):
    """``struct clone_args`` up to ``cgroup`` (CLONE_ARGS_SIZE_VER2, Linux 5.7)."""

    _fields_ = [
        (name, ctypes.c_uint64)
        for name in (
            "flags",
            "pidfd",
            "child_tid",
            "parent_tid",
            "exit_signal",
            "stack",
            "stack_size",
            "tls",
            "set_tid",
            "set_tid_size",
            "cgroup",
        )
    ]


class Child:
    """A started command, as much of ``subprocess.Popen`` as a job's pump uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped by someone else: its code is lost
                pid, status = self.pid, 255 << 8
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


@functools.cache
def _syscall() -> Any:
    """libc's ``syscall`` through ``PyDLL``, so the GIL stays held across the call and the
    child starts as the only thread, holding it. Made once: a ``PyDLL`` makes a class."""
    syscall = ctypes.PyDLL(None, use_errno=True).syscall
    syscall.restype = ctypes.c_long
    return syscall


def _clone_into(cgroup_fd: int) -> int:
    """``clone3`` into the cgroup: the child's pid in the parent, 0 in the child."""
    args = _CloneArgs(flags=CLONE_INTO_CGROUP, exit_signal=signal.SIGCHLD, cgroup=cgroup_fd)
    pid = _syscall()(ctypes.c_long(SYS_CLONE3), ctypes.byref(args), ctypes.sizeof(args))
    if pid < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return int(pid)


def start(
    argv: Sequence[str],
    *,
    cgroup: str,
    cwd: str,
    env: Mapping[str, str],
    stdio: tuple[int, int, int],
    pass_fds: Sequence[int] = (),
) -> Child | None:
    """Start ``argv`` (searched on ``env``'s PATH) born in the cgroup folder ``cgroup``,
    with ``stdio`` as its 0, 1, 2 and ``pass_fds`` kept: what ``Popen`` with
    ``close_fds=True`` and ``restore_signals=True`` would start. Raises OSError as Popen
    does when it cannot be started; None where this system cannot clone into a cgroup."""
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return None  # another thread may hold a lock the child would need
    paths = _candidates(argv[0], env)
    cgroup_fd = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    top = _highest_fd()
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    handled = _handled_signals()
    gc_was_on = gc.isenabled()
    gc.disable()  # no finaliser of ours may run in the child
    try:
        pid = _clone_into(cgroup_fd)
        if pid == 0:
            _exec_child(paths, argv, cwd, env, stdio, (pass_fds, err_w, top), (handled, blocked))
    except OSError as exc:
        os.close(err_r)
        if exc.errno in UNSUPPORTED:
            return None
        raise
    finally:
        if gc_was_on:
            gc.enable()
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        os.close(err_w)
        os.close(cgroup_fd)
    with os.fdopen(err_r, "rb") as pipe:
        report = pipe.read()  # end of file: the command was executed
    if report:
        os.waitpid(pid, 0)
        code = int(report.split(b":")[0])
        raise OSError(code, os.strerror(code), argv[0] if b":exec" in report else cwd)
    return Child(pid)


def rehearse(argv: Sequence[str], env: Mapping[str, str]) -> None:
    """What ``start`` works out before its clone, worked out and dropped: a spare worker goes
    through it while it waits (``jobcore.worker.rehearsal``)."""
    _candidates(argv[0], env)
    _highest_fd()
    _handled_signals()


def _candidates(name: str, env: Mapping[str, str]) -> list[bytes]:
    """Where to look for the program, as ``os.execvpe`` would (computed before the clone)."""
    if os.path.dirname(name):
        return [os.fsencode(name)]
    return [os.fsencode(os.path.join(folder, name)) for folder in os.get_exec_path(env)]


def _handled_signals() -> list[int]:
    """The signals whose handler an exec would not reset to the default by itself: those
    Python handles, and SIGPIPE and SIGXFSZ, which it ignores (listed before the clone, so
    the child, which copies every page it touches, does the least)."""
    handled = []
    for signum in SIGNALS:
        try:
            handler = signal.getsignal(signum)
        except (OSError, ValueError):
            continue
        if signum in (signal.SIGPIPE, signal.SIGXFSZ) or handler not in (
            signal.SIG_IGN,
            signal.SIG_DFL,
            None,
        ):
            handled.append(signum)
    return handled


def _highest_fd() -> int:
    """The highest descriptor open here (the child has the same): closing up to it rather
    than to the limit, which may be a million, where ``close_range`` is missing."""
    try:
        return max(int(name) for name in os.listdir("/proc/self/fd"))
    except (OSError, ValueError):
        return int(os.sysconf("SC_OPEN_MAX")) - 1


def _exec_child(
    paths: list[bytes],
    argv: Sequence[str],
    cwd: str,
    env: Mapping[str, str],
    stdio: tuple[int, int, int],
    fds: tuple[Sequence[int], int, int],
    signals: tuple[list[int], set[int | signal.Signals]],
) -> None:
    """In the child: set up as Popen's child would, then exec; never returns.

    Signals stay blocked until just before the exec, and every handler of Python's goes back
    to the default first: a stop's SIGTERM that comes in between ends the child as it would
    the command, never a Python handler copied from the worker.
    """
    pass_fds, err_w, top = fds
    handled, mask = signals
    step = "setup"
    try:
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)  # inheritable, even onto itself
        keep = sorted({*pass_fds, err_w})
        for fd in pass_fds:
            os.set_inheritable(fd, True)
        low = 3
        for fd in keep:
            os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, top + 1)
        step = "cwd"
        os.chdir(cwd)
        step = "exec"
        for signum in handled:
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        first_error = errno.ENOENT
        for path in paths:
            try:
                os.execve(path, list(argv), env)
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ENOTDIR) and first_error == errno.ENOENT:
                    first_error = exc.errno or errno.ENOENT
        raise OSError(first_error, os.strerror(first_error))
    except BaseException as exc:
        code = exc.errno if isinstance(exc, OSError) and exc.errno else errno.EINVAL
        with contextlib.suppress(BaseException):
            os.write(err_w, f"{code}:{step}".encode())
    finally:
        os._exit(127)
