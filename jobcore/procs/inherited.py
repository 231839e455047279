"""What a process hands down to a child it starts, read from ``/proc`` to compare two.

A ``jobcore run`` handed to the dispatcher (docs/decisions/0028) starts its job from the
dispatcher, not from the shell that typed it. The dispatcher takes it only where that changes
nothing the command could notice: the same credentials, umask, capabilities, seccomp filter,
CPUs and memory nodes, resource limits (``ulimit``), scheduling (``nice``), I/O priority
(``ionice``), OOM score (``choom``) and namespaces. Environment and folder travel with the
request.
"""

from __future__ import annotations

import os

import psutil

from jobcore.procs.procfs import stat_fields

STATUS_FIELDS = (
    b"Umask",
    b"Uid",
    b"Gid",
    b"Groups",
    b"CapInh",
    b"CapPrm",
    b"CapEff",
    b"CapBnd",
    b"CapAmb",
    b"NoNewPrivs",
    b"Seccomp",
    b"Cpus_allowed_list",
    b"Mems_allowed_list",
)
"""The lines of ``/proc/PID/status`` a child inherits."""
SCHEDULING = (15, 16, 38)
"""Priority, nice and policy among ``stat_fields``."""
NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")


def inherited(pid: int) -> tuple[object, ...] | None:
    """What a child of ``pid`` would start with, of the above; None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            status = [
                line for line in fh.read().splitlines() if line.split(b":")[0] in STATUS_FIELDS
            ]
        with open(f"/proc/{pid}/limits", "rb") as fh:
            limits = fh.read()
        with open(f"/proc/{pid}/oom_score_adj", "rb") as fh:
            oom = fh.read()
        namespaces = [_namespace(pid, name) for name in NAMESPACES]
        io_priority = tuple(psutil.Process(pid).ionice())
    except (OSError, psutil.Error):
        return None
    fields = stat_fields(pid)
    if fields is None or len(fields) <= max(SCHEDULING):
        return None
    return (*status, limits, oom, io_priority, *namespaces, *(fields[at] for at in SCHEDULING))


def _namespace(pid: int, name: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/{name}")
    except FileNotFoundError:  # a kernel without that kind of namespace
        return None


def same_as_mine(pid: int) -> bool:
    """Whether a child of ``pid`` would start as one of this process would."""
    theirs = inherited(pid)
    return theirs is not None and theirs == inherited(os.getpid())
