"""Stop a job's whole process tree: every descendant, including ones that escaped its group.

``killpg`` is not enough: a grandchild that called ``setsid`` leaves the group, and a child
whose parent died is re-parented away. So the tree is found two ways and snapshotted *before*
anything is signalled: the worker's descendants (the worker is a child subreaper, so orphans
stay under it) and every process carrying the job's marker (``JOBCORE_JOB``, see
``StateDir.job_marker``) in its environment. The marker names the state folder as well as the
job: a same-id job of another state folder is never found. A job launched from inside this
one (``jobcore run`` in its command) has a worker of its own, re-parented to ours and carrying
its own marker: that worker and everything under it are left out of the walk.
Signals go through psutil.Process objects, which refuse to signal a pid whose start time no
longer matches: a reused pid is never hit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

import psutil

from jobcore.procs.cgroup import JobCgroup
from jobcore.procs.identity import process_of
from jobcore.state.models import ProcessIdentity
from jobcore.state.paths import ENV_JOB

MAX_ROUNDS = 5
WAIT_STEP_S = 0.02
KILL_WAIT_S = 2.0


def _environ_marker(pid: int) -> bytes | None:
    """The ``JOBCORE_JOB=...`` entry of a process's environment (None: none, or unreadable)."""
    prefix = f"{ENV_JOB}=".encode()
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            entries = fh.read().split(b"\0")
    except OSError:
        return None
    return next((entry for entry in entries if entry.startswith(prefix)), None)


def _marked_processes(entry: bytes) -> list[psutil.Process]:
    """Processes of ours whose environment carries the marker ``entry`` (``NAME=value``)."""
    uid = os.getuid()
    found = []
    for proc in psutil.process_iter(["uids"]):
        try:
            if proc.info["uids"] is None or proc.info["uids"].real != uid:
                continue
        except psutil.Error:
            continue
        if _environ_marker(proc.pid) == entry:
            found.append(proc)
    return found


def _descendants(root: psutil.Process, entry: bytes) -> list[psutil.Process]:
    """``root``'s descendants, less every subtree rooted at a process marked for another job
    (the worker of a job launched from inside this one, and all it runs)."""
    children: dict[int, list[psutil.Process]] = {}
    for proc in psutil.process_iter(["ppid"]):
        children.setdefault(proc.info["ppid"], []).append(proc)
    found: list[psutil.Process] = []
    parents = [root.pid]
    while parents:
        for child in children.get(parents.pop(), []):
            marker = _environ_marker(child.pid)
            if marker is not None and marker != entry:
                continue
            found.append(child)
            parents.append(child.pid)
    return found


def job_processes(marker: str, worker: ProcessIdentity | None) -> list[psutil.Process]:
    """A snapshot of the job's processes, the worker itself excluded.

    ``marker`` is the job's ``StateDir.job_marker``.
    """
    entry = f"{ENV_JOB}={marker}".encode()
    procs: dict[int, psutil.Process] = {}
    root = process_of(worker) if worker is not None else None
    if root is not None:
        with contextlib.suppress(psutil.Error):
            for child in _descendants(root, entry):
                procs[child.pid] = child
    if os.path.isdir("/proc"):
        for proc in _marked_processes(entry):
            procs.setdefault(proc.pid, proc)
    excluded = {os.getpid(), worker.pid if worker else -1}
    return [p for pid, p in procs.items() if pid not in excluded and _running(p)]


def _running(proc: psutil.Process) -> bool:
    """Alive and not a zombie (a zombie is already dead; its parent just has not reaped it)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to ``timeout`` seconds for ``procs`` to end; returns those still running.

    Not ``psutil.wait_procs``: for a process that is not our child it waits until the pid
    disappears, and an orphan's zombie stays until init reaps it, which an init that does
    not reap (a container's) never does. A zombie has ended, whoever reaps it.
    """
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if _running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(WAIT_STEP_S)
        alive = [p for p in alive if _running(p)]
    return alive


def _signal_all(procs: list[psutil.Process], sig: signal.Signals) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)


def terminate(procs: list[psutil.Process], grace: float) -> list[psutil.Process]:
    """SIGTERM, wait up to ``grace`` seconds, SIGKILL what is left. Returns the survivors."""
    _signal_all(procs, signal.SIGTERM)
    alive = _wait_gone(procs, grace) if grace > 0 else procs
    if alive:
        _signal_all(alive, signal.SIGKILL)
        alive = _wait_gone(alive, KILL_WAIT_S)
    return alive


def kill_job_tree(
    marker: str, worker: ProcessIdentity | None, grace: float, cgroup: JobCgroup | None = None
) -> int:
    """Stop every process of the job except its worker; returns how many were signalled.

    A job with a cgroup is exactly its members (``jobcore.procs.cgroup``). Otherwise the sweep
    repeats, because a process may fork while its siblings are being stopped.
    """
    if cgroup is not None:
        return cgroup.stop(grace, spare=worker.pid if worker is not None else None)
    signalled = 0
    for _ in range(MAX_ROUNDS):
        procs = job_processes(marker, worker)
        if not procs:
            break
        signalled += len(procs)
        terminate(procs, grace)
        grace = 0.0  # later rounds only catch stragglers forked during the first
    return signalled
