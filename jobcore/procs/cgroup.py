"""A cgroup v2 per job, where this system lets us make one: exact membership.

Every process a job's command starts is born in the job's cgroup and stays there whatever it
does to its environment or session, so stopping the job is ``cgroup.kill`` and "everything is
gone" is ``populated 0`` in ``cgroup.events``. The cgroups live under ``<base>/jobcore``, where
``<base>`` is the highest cgroup above this process we may write: the hierarchy's root for
root, the delegated ``user@UID.service`` for a user of systemd. Workers wait in
``jobcore/workers``, never in a job's cgroup, so killing the job spares the worker that
records how it ended. Where no such base exists (or ``JOBCORE_CGROUP=off``), jobs are tracked
by process tree + environment marker (``jobcore.procs.tree``).

A job's cgroup is ``jobcore/<folder>-<job id>-<worker pid>``: ``<folder>`` names the state
folder (device and inode), so two folders' jobs of one id never meet, and the worker pid
makes each run's cgroup its own, so a late sweep of a dead run never reaches a resumed one.
The worker records the path in the job's folder for ``stop``, reconcile and ``doctor``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import NamedTuple

from jobcore.base.errors import JobcoreError
from jobcore.state.paths import StateDir, open_private

ENV_CGROUP = "JOBCORE_CGROUP"
"""``off`` keeps jobs out of cgroups (the tree + marker method) even where they could be."""

DIR_NAME = "jobcore"
WORKERS = "workers"
RECORD_NAME = "cgroup"
"""The file in a job's folder holding the path of its current run's cgroup."""

WAIT_STEP_S = 0.02
KILL_WAIT_S = 2.0
LEFTOVER_GRACE_S = 2.0
"""Grace given to what a job left running (a daemonised grandchild) or to its tree when its
worker is terminated."""


class Tracking(NamedTuple):
    """How this process would track a job's processes, and why."""

    base: Path | None
    """``<writable v2 cgroup>/jobcore``, created; None: tree + marker instead."""
    reason: str

    def describe(self) -> str:
        if self.base is None:
            return f"process tree + environment marker: {self.reason}"
        return f"cgroup v2 at {self.base} (exact)"


@cache
def _v2_mount() -> tuple[Path, str] | None:
    """(mount point, mounted root) of the cgroup v2 hierarchy, from /proc/self/mountinfo
    (read once per process: a job's start asks twice, and the file may be long)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as fh:
            for line in fh:
                fields, _, tail = line.partition(" - ")
                if tail.split(" ", 1)[0] == "cgroup2":
                    parts = fields.split()
                    return Path(_unescape(parts[4])), _unescape(parts[3])
    except OSError:
        pass
    return None


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def _own_cgroup() -> str | None:
    """This process's cgroup v2 path (relative to the hierarchy), from /proc/self/cgroup."""
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("0::"):
                    return line[3:].rstrip("\n")
    except OSError:
        pass
    return None


def _writable(path: Path) -> bool:
    """We may create cgroups here and move processes into and out of them."""
    return os.access(path, os.W_OK) and os.access(path / "cgroup.procs", os.W_OK)


def _find_base() -> Tracking:
    """The highest writable cgroup above us (processes move freely below it), made ready."""
    if not sys.platform.startswith("linux"):
        return Tracking(None, "cgroups are Linux only")
    if os.environ.get(ENV_CGROUP, "").lower() in ("0", "off", "no", "false"):
        return Tracking(None, f"turned off by {ENV_CGROUP}={os.environ[ENV_CGROUP]}")
    mount, own = _v2_mount(), _own_cgroup()
    if mount is None or own is None:
        return Tracking(None, "no cgroup v2 hierarchy mounted")
    point, root = mount
    rel = os.path.relpath(own, root) if own.startswith(root) else None
    if rel is None or rel.startswith(".."):
        return Tracking(None, f"this process's cgroup {own} is outside the mounted {point}")
    steps = [] if rel == "." else rel.split("/")
    for depth in range(len(steps) + 1):
        candidate = point.joinpath(*steps[:depth])
        if _writable(candidate):
            return _prepare(candidate / DIR_NAME)
    return Tracking(
        None, f"no writable cgroup v2 at {point} for uid {os.getuid()} (not root, not delegated)"
    )


def _prepare(base: Path) -> Tracking:
    """Create ``jobcore`` and its ``workers`` leaf; let jobs have memory.current if we can."""
    try:
        (base / WORKERS).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return Tracking(None, f"cannot create {base}: {exc.strerror}")
    if "memory" in _read(base / "cgroup.controllers").split():
        # Only possible while no process sits in jobcore itself (workers wait in their leaf).
        with contextlib.suppress(OSError):
            _write(base / "cgroup.subtree_control", "+memory")
    return Tracking(base, "")


@cache
def tracking() -> Tracking:
    """How jobs started from this process are tracked (decided once per process)."""
    return _find_base()


def _read(path: Path) -> str:
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read()
    except OSError:
        return ""


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def folder_token(state: StateDir) -> str:
    """Names the state folder itself (device and inode): one token per folder, however reached."""
    st = os.stat(state.root)
    return f"{st.st_dev:x}.{st.st_ino:x}"


class JobCgroup:
    """One run's cgroup: its members, how to empty it, what it used."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"JobCgroup({str(self.path)!r})"

    def create(self) -> None:
        self.path.mkdir(exist_ok=True)

    def enter(self, pid: int = 0) -> None:
        """Move ``pid`` (0: the caller) in; a child's ``preexec_fn``, so it is born inside."""
        _write(self.path / "cgroup.procs", str(pid))

    def reachable(self) -> bool:
        """Whether this process may start a child inside: the kernel wants write access to
        ``cgroup.procs`` of the lowest cgroup holding both, which a delegation that does not
        reach where this process was born may not give."""
        here = _own_folder()
        if here is None:
            return False
        common = Path(os.path.commonpath([here, self.path]))
        return os.access(common / "cgroup.procs", os.W_OK)

    def pids(self) -> list[int]:
        """Every member, sub-cgroups included (a root job may make its own)."""
        found: list[int] = []
        for folder, _, _ in os.walk(self.path):
            found.extend(int(p) for p in _read(Path(folder) / "cgroup.procs").split())
        return found

    def populated(self) -> bool:
        """Whether any process is left in it (a removed cgroup holds none)."""
        return "populated 1" in _read(self.path / "cgroup.events")

    def wait_empty(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.populated():
            if time.monotonic() >= deadline:
                return False
            time.sleep(WAIT_STEP_S)
        return True

    def signal_members(self, sig: signal.Signals, spare: int | None = None) -> int:
        """Send ``sig`` to every member but ``spare``; returns how many were signalled.

        Each pid is pinned with a pidfd, then kept only if still a member: a pid that was
        reused in between names another process, which the pidfd then refuses to signal.
        """
        pinned = {}
        for pid in self.pids():
            if pid != spare:
                with contextlib.suppress(OSError):
                    pinned[pid] = os.pidfd_open(pid)
        members = set(self.pids())
        sent = 0
        for pid, fd in pinned.items():
            with contextlib.suppress(OSError):
                if pid in members:
                    signal.pidfd_send_signal(fd, sig)
                    sent += 1
            os.close(fd)
        return sent

    def kill_each(self, spare: int | None = None) -> None:
        """SIGKILL every member, round after round until none forks faster than it dies."""
        for _ in range(10):
            if not self.signal_members(signal.SIGKILL, spare):
                return
            self.wait_empty(WAIT_STEP_S * 5)

    def kill(self, spare: int | None = None) -> None:
        """``cgroup.kill`` (Linux 5.14+): every member at once, forks in flight included.

        Member by member instead on older kernels, or while ``spare`` (a batch's worker,
        in for the instant of starting an item) is inside.
        """
        if spare is None or spare not in self.pids():
            try:
                _write(self.path / "cgroup.kill", "1")
                return
            except FileNotFoundError:
                if not self.path.is_dir():
                    return
            except OSError:
                pass
        self.kill_each(spare)

    def stop(self, grace: float, spare: int | None = None) -> int:
        """SIGTERM every member, wait up to ``grace`` for the cgroup to empty, then kill what
        is left. Returns how many got the SIGTERM."""
        if not self.populated():
            return 0
        signalled = self.signal_members(signal.SIGTERM, spare)
        if grace > 0:
            self.wait_empty(grace)
        if self.populated():
            self.kill(spare)
            self.wait_empty(KILL_WAIT_S)
        return signalled

    def remove(self) -> bool:
        """rmdir, deepest first; False while something still runs in it."""
        removed = True
        for folder, _, _ in sorted(os.walk(self.path), key=lambda f: -len(f[0])):
            try:
                os.rmdir(folder)
            except FileNotFoundError:
                continue
            except OSError:
                removed = False
        return removed

    def cpu_usec(self) -> int | None:
        """CPU time its members (past and present) used, from ``cpu.stat``."""
        for line in _read(self.path / "cpu.stat").splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value)
        return None

    def memory(self) -> int | None:
        """``memory.current`` where the memory controller reaches it (pure v2 systems)."""
        text = _read(self.path / "memory.current").strip()
        return int(text) if text.isdigit() else None

    @contextlib.contextmanager
    def spawning(self) -> Iterator[None]:
        """The caller is inside for the instant of a spawn, so the child is born inside: cheap
        beside the spawn (docs/decisions/0008-cgroup-per-run.md)."""
        self.enter()
        try:
            yield
        finally:
            _write(self.path.parent / WORKERS / "cgroup.procs", "0")


def settle_worker(pid: int = 0) -> None:
    """Move a worker (this process, or the one just spawned as ``pid``) into
    ``jobcore/workers``: out of any job's cgroup it was born in (a job started from inside
    a job), so that job's ``cgroup.kill`` never reaches it. The launcher does it at once for
    a worker it starts from inside a job, whose command may end before the worker is up."""
    base = tracking().base
    if base is not None:
        with contextlib.suppress(OSError):
            # A fork of a settled process (the dispatcher, a worker) is born there already,
            # and a move costs a wait for the kernel's RCU grace period (~10 ms, 0026).
            if pid != 0 or _own_folder() != base / WORKERS:
                _write(base / WORKERS / "cgroup.procs", str(pid))
            if pid == 0:
                _sweep_abandoned(base)


def _own_folder() -> Path | None:
    """This process's cgroup as a folder of the mounted hierarchy (None: outside it)."""
    mount, own = _v2_mount(), _own_cgroup()
    if mount is None or own is None or not own.startswith(mount[1]):
        return None
    point, root = mount
    return point / os.path.relpath(own, root)


def _sweep_abandoned(base: Path) -> None:
    """Remove job cgroups that are empty and whose worker is gone (killed before it could).

    Safe for any state folder's: only their worker ever moves a process into them, so one
    that is empty with its worker gone stays empty; ``rmdir`` refuses a populated one.
    """
    for entry in os.scandir(base):
        pid = entry.name.rpartition("-")[2]
        if entry.name == WORKERS or not pid.isdigit() or os.path.exists(f"/proc/{pid}"):
            continue
        with contextlib.suppress(OSError):
            os.rmdir(entry.path)


def _record_path(state: StateDir, job_id: str) -> Path:
    return state.job_dir(job_id) / RECORD_NAME


def create_for_run(state: StateDir, job_id: str, worker_pid: int) -> JobCgroup | None:
    """Make this run's cgroup and record it; None where jobs are tracked by tree + marker."""
    record = _record_path(state, job_id)
    base = tracking().base
    if base is None:
        record.unlink(missing_ok=True)
        return None
    group = JobCgroup(base / f"{folder_token(state)}-{job_id}-{worker_pid}")
    try:
        group.create()
    except OSError as exc:
        print(f"jobcore: no cgroup for this run ({exc.strerror}); tracking by process tree")
        record.unlink(missing_ok=True)
        return None
    from jobcore.state.atomic import write_bytes

    # Not fsynced: a cgroup does not outlive the machine, so neither need its record.
    write_bytes(record, str(group.path).encode(), durable=False, root=state.root)
    return group


def recorded(state: StateDir, job_id: str) -> Path | None:
    """The cgroup the job's last run recorded, if the record is sound.

    Sound means named for this state folder and job, directly in a ``jobcore`` folder of
    the mounted cgroup v2 hierarchy: a record pointing anywhere else is ignored.
    """
    try:
        fd = open_private(_record_path(state, job_id), os.O_RDONLY, state.root)
    except (OSError, JobcoreError):
        return None
    with os.fdopen(fd, encoding="utf-8", errors="replace") as fh:
        path = Path(fh.read(4096).strip())
    mount = _v2_mount()
    try:
        prefix = f"{folder_token(state)}-{job_id}-"
    except OSError:
        return None
    sound = (
        mount is not None
        and path.is_absolute()
        and ".." not in path.parts
        and path.parent.name == DIR_NAME
        and path.is_relative_to(mount[0])
        and path.name.startswith(prefix)
        and path.name[len(prefix) :].isdigit()
    )
    return path if sound else None


def recorded_cgroup(state: StateDir, job_id: str) -> JobCgroup | None:
    """The job's cgroup while it exists; None sends callers to the tree + marker method."""
    path = recorded(state, job_id)
    return JobCgroup(path) if path is not None and path.is_dir() else None


def of_folder(state: StateDir) -> dict[str, list[JobCgroup]]:
    """This state folder's cgroups that exist, by job id (for ``doctor``)."""
    base = tracking().base
    if base is None or not base.is_dir():
        return {}
    prefix = f"{folder_token(state)}-"
    found: dict[str, list[JobCgroup]] = {}
    for entry in os.scandir(base):
        if entry.name.startswith(prefix) and entry.is_dir(follow_symlinks=False):
            job_id = entry.name[len(prefix) :].rpartition("-")[0]
            found.setdefault(job_id, []).append(JobCgroup(Path(entry.path)))
    return found
