"""Cleaning finished jobs away: rows, items and folders, never anything still alive.

The row goes first, then the folder: a crash in between leaves an orphan folder (which
``doctor`` finds and removes), never a job whose log has vanished under a reader.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from jobcore.base.errors import UsageError
from jobcore.ops.reconcile import reconcile
from jobcore.state import transitions
from jobcore.state.models import Job, JobStatus
from jobcore.state.paths import StateDir
from jobcore.state.store import Store

CLEANABLE = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.PAUSED)
DEFAULT_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


def select_for_clean(
    store: Store,
    *,
    statuses: Sequence[JobStatus] = DEFAULT_STATUSES,
    keep: int | None = None,
    older_than: float | None = None,
    now: float | None = None,
) -> list[Job]:
    """The jobs ``clean`` would remove: of ``statuses``, beyond the newest ``keep``, and
    finished more than ``older_than`` seconds ago. Queued and running jobs never qualify."""
    wanted = [JobStatus(s) for s in statuses]
    for status in wanted:
        if status not in CLEANABLE:
            raise UsageError(f"clean never removes {status.value} jobs")
    if keep is not None and keep < 0:
        raise UsageError("--keep expects a number >= 0")
    now = time.time() if now is None else now
    jobs = store.list_jobs([s.value for s in wanted])
    if keep:
        jobs = jobs[keep:]
    if older_than is not None:
        jobs = [j for j in jobs if (j.finished_at or j.created_at) <= now - older_than]
    return jobs


def clean(
    state: StateDir,
    store: Store,
    *,
    statuses: Sequence[JobStatus] = DEFAULT_STATUSES,
    keep: int | None = None,
    older_than: float | None = None,
    dry_run: bool = False,
    actor: str = "user",
) -> list[Job]:
    """Remove the selected jobs with their folders and logs; returns what was removed."""
    reconcile(store)
    jobs = select_for_clean(store, statuses=statuses, keep=keep, older_than=older_than)
    if dry_run:
        return jobs
    return [job for job in jobs if delete_ended(state, store, job, "cleaned", actor)]


def delete_ended(state: StateDir, store: Store, job: Job, kind: str, actor: str) -> bool:
    """Delete the job's row, items and samples, then its folder, if it is still as seen
    (a job resumed meanwhile is not ours to remove any more); its history stays."""
    worker = job.worker.pid if job.worker else None
    with store.write() as conn:
        if not transitions.delete_if_unchanged(conn, job.id, job.status, worker, kind, actor):
            return False
    state.remove_job_dir(job.id)
    return True
