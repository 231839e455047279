"""Act on jobs: stop (pause), kill and resume. The CLI and the dashboard both call these.

Stopping is cooperative first and forceful second: the request is written to the row, the
job's process tree (not the worker) is terminated, and the worker, seeing its command end,
records the outcome the request asked for. Only if the worker does not finish in time is it
killed too, and the row finished here, conditionally, so nothing is written twice.
"""

from __future__ import annotations

import contextlib
import time

import psutil

from jobcore.errors import JobcoreError
from jobcore.launcher import spawn_worker
from jobcore.liveness import is_alive, reconcile
from jobcore.models import Job, JobStatus
from jobcore.paths import StateDir
from jobcore.proctree import kill_job_tree, terminate
from jobcore.store import Store

DEFAULT_GRACE_S = 5.0
WORKER_FINISH_S = 3.0
"""How long the worker gets to record the outcome after its command's tree is gone."""


def _wait_worker_gone(job: Job, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while job.worker is not None and is_alive(job.worker):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def stop(store: Store, job_id: str, grace: float = DEFAULT_GRACE_S, *, kill: bool = False) -> Job:
    """Stop a queued or running job's whole tree. ``kill``: no grace, and the job fails.

    A stopped job becomes ``paused`` (resumable); a killed one ``failed`` with reason "killed".
    """
    reconcile(store)
    job = store.get(job_id)
    if not job.status.is_active:
        raise JobcoreError(f"job {job.id} is {job.status.value}; there is nothing to stop")
    request = "kill" if kill else "pause"
    with store.write() as conn:
        conn.execute(
            "UPDATE jobs SET stop_request = ? WHERE id = ? AND status IN ('queued', 'running')",
            (request, job.id),
        )
    kill_job_tree(job.id, job.worker, 0.0 if kill else grace)
    if not _wait_worker_gone(job, WORKER_FINISH_S) and job.worker is not None:
        with contextlib.suppress(psutil.Error):
            terminate([psutil.Process(job.worker.pid)], 0.0 if kill else 1.0)
    status, reason = (JobStatus.FAILED, "killed") if kill else (JobStatus.PAUSED, "stopped by user")
    store.finish_if_active(job.id, status, reason, expect_worker=job.worker)
    return store.get(job.id)


def resume(state: StateDir, store: Store, job_id: str) -> Job:
    """Start a new worker for a paused or failed job; refused while it runs or once completed.

    The status check and the switch to ``queued`` happen in one write transaction, so two
    resumes at once cannot both win: the second sees ``queued`` and is refused.
    """
    reconcile(store)
    with store.write() as conn:
        row = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        status = JobStatus(row["status"]) if row else None
        if status is None:
            raise JobcoreError(f"no job with id {job_id!r}")
        if status.is_active:
            raise JobcoreError(f"job {job_id} is already {status.value}")
        if status is JobStatus.COMPLETED:
            raise JobcoreError(f"job {job_id} has completed; there is nothing to resume")
        conn.execute(
            "UPDATE jobs SET status = 'queued', queued_at = ?, reason = NULL,"
            " stop_request = NULL, finished_at = NULL, exit_code = NULL, worker_pid = NULL,"
            " worker_start = NULL, cmd_pid = NULL, cmd_start = NULL WHERE id = ?",
            (time.time(), job_id),
        )
    spawn_worker(state, store, job_id)
    return store.get(job_id)
