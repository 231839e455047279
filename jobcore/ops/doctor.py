"""``jobcore doctor``: reconcile the database with the files and the processes.

Each check finds one kind of inconsistency; ``fix=True`` also repairs it. Nothing is ever
signalled unless its identity is confirmed twice: it carries the marker of a job of this
state folder (``JOBCORE_JOB``, see ``StateDir.job_marker``) in its environment, and psutil
re-checks that the pid still names the same process (its start time) at the moment of the
signal.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import stat
import time
from typing import Any, NamedTuple

import psutil

from jobcore.base.errors import JobcoreError
from jobcore.ops.reconcile import reconcile
from jobcore.procs.identity import is_alive
from jobcore.state.paths import ENV_JOB, StateDir, make_folder, open_folder, open_private
from jobcore.state.store import Store
from jobcore.state.transitions import record_event

TEMP_AGE_S = 60.0
"""Temporary files younger than this may belong to a write in progress."""
UNFIXABLE = ("integrity", "unsafe")
"""Findings ``--fix`` leaves to a person: a corrupt database, a planted symlink."""
ORPHAN_AGE_S = 60.0
"""Job folders with no row younger than this may belong to a launch in progress."""


class Finding(NamedTuple):
    kind: str
    job_id: str | None
    detail: str
    fixed: bool

    def to_json(self) -> dict[str, Any]:
        return self._asdict()


def _environ(proc: psutil.Process) -> dict[str, str]:
    try:
        return proc.environ()
    except (psutil.Error, OSError):
        return {}


def _job_of(proc: psutil.Process, prefix: str) -> str | None:
    """The id of the job of this state folder whose marker ``proc`` carries, if any."""
    marker = _environ(proc).get(ENV_JOB, "")
    if not marker.startswith(prefix):
        return None
    return marker[len(prefix) :] or None


def _orphans(state: StateDir, store: Store) -> list[tuple[psutil.Process, str]]:
    """Processes of this state folder whose job is over (or gone): (process, job id).

    Not while the job's worker lives: it may be running the job's callback, or waiting to
    resume it by itself, and it stops what its job left behind on its own.
    """
    prefix = state.marker_prefix()
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        job_id = _job_of(proc, prefix)
        if job_id and not _job_lives(store, job_id):
            found.append((proc, job_id))
    return found


def _job_lives(store: Store, job_id: str) -> bool:
    """The job is queued or running, or its worker still runs (whatever its status)."""
    try:
        job = store.get(job_id)
    except JobcoreError:
        return False
    return job.status.is_active or (job.worker is not None and is_alive(job.worker))


def examine(state: StateDir, store: Store, *, fix: bool = False) -> list[Finding]:
    """Every inconsistency found (and, with ``fix``, repaired).

    A corrupt database is the one finding reported alone: nothing else can be trusted then.
    """
    corrupt = _integrity(store)
    if corrupt is not None:
        return [corrupt]
    findings: list[Finding] = []
    dead = [j for j in store.active_jobs() if j.worker is not None and not is_alive(j.worker)]
    if fix:
        reconciled = {j.id for j in reconcile(store, actor="doctor")}
    for job in dead:
        assert job.worker is not None
        fixed = fix and job.id in reconciled
        findings.append(
            Finding(
                "dead-worker",
                job.id,
                f"marked {job.status.value} but worker {job.worker.pid} is gone",
                fixed,
            )
        )
    ids = {r[0] for r in store.conn.execute("SELECT id FROM jobs")}
    findings += _job_folders(state, store, sorted(ids), fix)
    findings += _orphan_folders(state, store, ids, fix)

    for proc, job_id in _orphans(state, store):
        detail = f"process {proc.pid} ({_name(proc)}) still runs for job {job_id}, which has ended"
        fixed = False
        if fix and _job_of(proc, state.marker_prefix()) == job_id:
            try:
                proc.send_signal(signal.SIGKILL)  # psutil refuses a pid that was reused
                fixed = True
            except psutil.Error:
                fixed = not proc.is_running()
        findings.append(Finding("orphan-process", job_id, detail, fixed))
    findings += _orphan_cgroups(state, store, fix)
    return findings + _temp_files(state, fix)


def _orphan_cgroups(state: StateDir, store: Store, fix: bool) -> list[Finding]:
    """This folder's job cgroups that no active run owns (a worker died mid-sweep, say):
    everything in one is provably the job's, so ``--fix`` kills it and removes the cgroup."""
    from jobcore.procs.cgroup import of_folder

    owners = {j.id: j.worker.pid for j in store.active_jobs() if j.worker is not None}
    findings = []
    for job_id, groups in sorted(of_folder(state).items()):
        for group in groups:
            if group.path.name.endswith(f"-{owners.get(job_id)}"):
                continue
            fixed = False
            if fix:
                group.stop(0.0)
                fixed = group.remove()
            detail = f"cgroup {group.path} of job {job_id} outlived its run"
            findings.append(Finding("orphan-cgroup", job_id, detail, fixed))
    return findings


def _integrity(store: Store) -> Finding | None:
    """A finding when SQLite finds the database damaged (or cannot even read it)."""
    try:
        problem = store.conn.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        problem = str(exc)
    if problem == "ok":
        return None
    detail = f"state database {store.state.db_path} is corrupt ({problem}); move it aside"
    return Finding("integrity", None, detail + " to start afresh", False)


def _job_folders(state: StateDir, store: Store, ids: list[str], fix: bool) -> list[Finding]:
    """Jobs whose folder or log is missing (repaired: an empty log saying so), or unsafe."""
    findings = []
    for job_id in ids:
        log = state.log_path(job_id)
        try:
            os.close(open_private(log, os.O_RDONLY, state.root))
            continue
        except JobcoreError as exc:  # a planted link: left for a person to look at
            findings.append(Finding("unsafe", job_id, str(exc), False))
            continue
        except FileNotFoundError:
            pass
        if fix:
            make_folder(state.job_dir(job_id), state.root)
            fd = open_private(log, os.O_CREAT | os.O_WRONLY | os.O_APPEND, state.root)
            os.write(fd, b"jobcore doctor: this job's log was missing; output before now is lost\n")
            os.close(fd)
            with store.write() as conn:
                record_event(conn, job_id, "repaired", "doctor", "log was missing")
        findings.append(Finding("ghost", job_id, f"job folder or log missing: {log}", fix))
    return findings


def _orphan_folders(state: StateDir, store: Store, ids: set[str], fix: bool) -> list[Finding]:
    """Folders with no job, once ORPHAN_AGE_S old: a launch makes its row, then its folder,
    so a younger one may belong to a job created since ``ids`` was read."""
    findings = []
    jobs_fd = open_folder(state.jobs_root, state.root)
    try:
        now = time.time()
        for name in sorted(os.listdir(jobs_fd)):
            st = os.stat(name, dir_fd=jobs_fd, follow_symlinks=False)
            if name in ids or now - st.st_mtime < ORPHAN_AGE_S:
                continue
            if fix and not _has_row(store, name):
                if stat.S_ISDIR(st.st_mode):
                    shutil.rmtree(name, ignore_errors=True, dir_fd=jobs_fd)
                else:  # a link or a file: removed itself, never what it points to
                    os.unlink(name, dir_fd=jobs_fd)
            detail = f"folder with no job: {state.jobs_root / name}"
            findings.append(Finding("orphan-folder", None, detail, fix))
    finally:
        os.close(jobs_fd)
    return findings


def _has_row(store: Store, job_id: str) -> bool:
    return store.conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone() is not None


def _temp_files(state: StateDir, fix: bool) -> list[Finding]:
    """Temporary files left by a write that never finished (in the root or a job's folder)."""
    findings = []
    now = time.time()
    folders = [state.root, *(p for p in state.jobs_root.iterdir() if not p.is_symlink())]
    for folder in folders:
        try:
            dir_fd = open_folder(folder, state.root)
        except (OSError, JobcoreError):
            continue
        try:
            for name in os.listdir(dir_fd):
                if not name.startswith(".tmp-"):
                    continue
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                if now - st.st_mtime < TEMP_AGE_S:
                    continue
                if fix:
                    os.unlink(name, dir_fd=dir_fd)
                detail = f"leftover temporary file {folder / name}"
                findings.append(Finding("temp-file", None, detail, fix))
        finally:
            os.close(dir_fd)
    return findings


def _name(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())[:60] or proc.name()
    except psutil.Error:
        return "?"
