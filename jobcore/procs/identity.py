"""Is a recorded worker still the process we started? Truth without a daemon.

A pid alone proves nothing: pids are reused within a minute here, and a zombie still "exists".
A process is ours only if its pid *and* its start time match what was recorded when we started
it. On Linux the start time is the kernel's tick count since boot (``/proc/PID/stat`` field 22)
plus the boot id: exact, and blind to wall-clock steps. Elsewhere psutil's create time is used,
which is derived from the wall clock, so it is compared with ``WALLCLOCK_TOLERANCE_S``.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from jobcore.base.clock import boot_id
from jobcore.procs.procfs import stat_fields  # start ticks from another boot mean nothing
from jobcore.state.models import ProcessIdentity

if TYPE_CHECKING:
    import psutil

WALLCLOCK_TOLERANCE_S = 1.0

_LINUX = sys.platform.startswith("linux")


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start ticks) of a process, or None if there is no such process."""
    fields = stat_fields(pid)
    return None if fields is None else (fields[0].decode(), int(fields[19]))


def identity_of(pid: int) -> ProcessIdentity | None:
    """The identity of the process now holding ``pid``, or None if none does."""
    if _LINUX:
        stat = _proc_stat(pid)
        return None if stat is None else ProcessIdentity(pid, float(stat[1]), boot_id())
    import psutil

    try:
        return ProcessIdentity(pid, psutil.Process(pid).create_time(), "")
    except psutil.Error:
        return None


def same_process(recorded: ProcessIdentity, current: ProcessIdentity) -> bool:
    """Whether two identities name one process (pid reuse and reboots tell them apart)."""
    if recorded.pid != current.pid or recorded.boot_id != current.boot_id:
        return False
    tolerance = 0.5 if recorded.boot_id else WALLCLOCK_TOLERANCE_S
    return abs(recorded.start - current.start) <= tolerance


def is_alive(recorded: ProcessIdentity) -> bool:
    """The recorded process still runs: same pid, same start, and not a zombie."""
    # One read of /proc/PID/stat, no psutil import (docs/decisions/0016-read-proc-directly.md).
    if _LINUX:
        stat = _proc_stat(recorded.pid)
        if stat is None or stat[0] in ("Z", "X"):
            return False
        return same_process(recorded, ProcessIdentity(recorded.pid, float(stat[1]), boot_id()))
    current = identity_of(recorded.pid)
    if current is None or not same_process(recorded, current):
        return False
    import psutil

    try:
        return psutil.Process(recorded.pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def process_of(recorded: ProcessIdentity) -> psutil.Process | None:
    """A psutil handle on the recorded process, only if it provably is that process.

    The handle is taken first and the identity checked after: a process proven alive then
    cannot have handed its pid to another, and psutil refuses to signal the handle should
    the pid be reused later.
    """
    import psutil

    try:
        proc = psutil.Process(recorded.pid)
    except psutil.Error:
        return None
    return proc if is_alive(recorded) else None


def self_identity() -> ProcessIdentity:
    """This process's own identity (what a worker records about itself)."""
    identity = identity_of(os.getpid())
    assert identity is not None
    return identity
