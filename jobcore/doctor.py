"""``jobcore doctor``: reconcile the database with the files and the processes.

Each check finds one kind of inconsistency; ``fix=True`` also repairs it. Nothing is ever
signalled unless its identity is confirmed twice: it carries the marker of a job of this
state folder (``JOBCORE_JOB``, see ``StateDir.job_marker``) in its environment, and psutil
re-checks that the pid still names the same process (its start time) at the moment of the
signal.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any, NamedTuple

import psutil

from jobcore.errors import JobcoreError
from jobcore.liveness import is_alive, reconcile
from jobcore.paths import ENV_JOB, StateDir
from jobcore.store import Store, record_event

TEMP_AGE_S = 60.0
"""Temporary files younger than this may belong to a write in progress."""


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
    """Every inconsistency found (and, with ``fix``, repaired)."""
    findings: list[Finding] = []
    row = store.conn.execute("PRAGMA integrity_check").fetchone()
    if row[0] != "ok":
        findings.append(Finding("integrity", None, f"PRAGMA integrity_check: {row[0]}", False))

    dead = [j for j in store.active_jobs() if j.worker is not None and not is_alive(j.worker)]
    if fix:
        reconciled = {j.id for j in reconcile(store, actor="doctor")}
    for job in dead:
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
    for job_id in sorted(ids):
        log = state.log_path(job_id)
        if log.exists():
            continue
        if fix:
            state.job_dir(job_id).mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(log, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
            os.write(fd, b"jobcore doctor: this job's log was missing; output before now is lost\n")
            os.close(fd)
            with store.write() as conn:
                record_event(conn, job_id, "repaired", "doctor", "log was missing")
        findings.append(Finding("ghost", job_id, f"job folder or log missing: {log}", fix))

    for folder in sorted(state.jobs_root.iterdir()) if state.jobs_root.exists() else []:
        if folder.name in ids or not folder.is_dir():
            continue
        if fix:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
        findings.append(Finding("orphan-folder", None, f"folder with no job: {folder}", fix))

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

    findings.extend(_orphan_cgroups(state, store, fix))

    now = time.time()
    for tmp in [*state.root.glob(".tmp-*"), *state.jobs_root.glob("*/.tmp-*")]:
        if now - tmp.stat().st_mtime < TEMP_AGE_S:
            continue
        if fix:
            tmp.unlink(missing_ok=True)
        findings.append(Finding("temp-file", None, f"leftover temporary file {tmp}", fix))
    return findings


def _orphan_cgroups(state: StateDir, store: Store, fix: bool) -> list[Finding]:
    """This folder's job cgroups that no active run owns (a worker died mid-sweep, say):
    everything in one is provably the job's, so ``--fix`` kills it and removes the cgroup."""
    from jobcore.cgroup import of_folder

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


def _name(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())[:60] or proc.name()
    except psutil.Error:
        return "?"
