"""Act on jobs: stop (pause), kill and resume. The CLI and the dashboard both call these.

Stopping is cooperative first and forceful second: the request is written to the row, the
job's process tree (not the worker) is terminated, and the worker, seeing its command end,
records the outcome the request asked for. Only if the worker does not finish in time is it
killed too, and the row finished here, conditionally, so nothing is written twice.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Sequence

from jobcore.errors import JobcoreError
from jobcore.items import ItemBook, ItemStatus, counts
from jobcore.launcher import spawn_worker
from jobcore.liveness import is_alive, process_of, reconcile
from jobcore.models import Job, JobStatus
from jobcore.paths import StateDir, open_private
from jobcore.proctree import kill_job_tree, terminate
from jobcore.store import Store, record_event

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
    if job.status is JobStatus.PAUSED and job.paused_until is not None:
        return _cancel_auto_resume(store, job)
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
        worker = process_of(job.worker)
        if worker is not None:
            terminate([worker], 0.0 if kill else 1.0)
    status, reason = (JobStatus.FAILED, "killed") if kill else (JobStatus.PAUSED, "stopped by user")
    store.finish_if_active(job.id, status, reason, expect_worker=job.worker, actor="user")
    return store.get(job.id)


def _cancel_auto_resume(store: Store, job: Job) -> Job:
    """A self-paused job waiting to resume by itself: it stays paused, and its waiting
    worker (proven to be ours by pid and start time) is let go."""
    store.update(job.id, paused_until=None)
    worker = process_of(job.worker) if job.worker is not None else None
    if worker is not None:
        terminate([worker], 1.0)
    return store.get(job.id)


def _check_resumable(conn: sqlite3.Connection, job_id: str) -> None:
    """Refuse a resume that would do nothing or run a job twice, with the reason why."""
    row = conn.execute("SELECT status, spec FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobcoreError(f"no job with id {job_id!r}")
    status = JobStatus(row["status"])
    if status.is_active:
        raise JobcoreError(f"job {job_id} is already {status.value}")
    if status is JobStatus.COMPLETED:
        raise JobcoreError(f"job {job_id} has completed; there is nothing to resume")
    if "each" in json.loads(row["spec"]):
        n = counts(conn, job_id)
        if not n[ItemStatus.PENDING] and not n[ItemStatus.RUNNING]:
            if n[ItemStatus.FAILED]:
                raise JobcoreError(
                    f"job {job_id} has no pending items ({n[ItemStatus.FAILED]} failed); "
                    f"`jobcore retry {job_id}` runs the failed ones again"
                )
            raise JobcoreError(f"job {job_id} has no items left to run")


def _check_folder(state: StateDir, job_id: str) -> None:
    """Refuse to queue a job whose worker could not open its log: gone, or planted."""
    try:
        os.close(open_private(state.log_path(job_id), os.O_RDONLY, state.root))
    except FileNotFoundError:
        raise JobcoreError(
            f"job {job_id}'s folder {state.job_dir(job_id)} is gone (or its log is); "
            "`jobcore doctor --fix` makes a new one, then resume again"
        ) from None


def resume(state: StateDir, store: Store, job_id: str) -> Job:
    """Start a new worker for a paused or failed job; refused while it runs or once completed.

    The status check and the switch to ``queued`` happen in one write transaction, so two
    resumes at once cannot both win: the second sees ``queued`` and is refused.
    """
    reconcile(store)
    _check_folder(state, job_id)
    with store.write() as conn:
        _check_resumable(conn, job_id)
        conn.execute(
            "UPDATE jobs SET status = 'queued', queued_at = ?, reason = NULL,"
            " stop_request = NULL, finished_at = NULL, exit_code = NULL, worker_pid = NULL,"
            " paused_until = NULL,"
            " worker_start = NULL, cmd_pid = NULL, cmd_start = NULL WHERE id = ?",
            (time.time(), job_id),
        )
        record_event(conn, job_id, "resumed", "user")
    spawn_worker(state, store, job_id)
    return store.get(job_id)


def retry(state: StateDir, store: Store, job_id: str, items: Sequence[str] = ()) -> int:
    """Run failed items again (all, or those named) with a fresh retry budget, and resume.

    For a one-command job this is a resume of the failed job. Returns how many items were
    put back to pending (1 for a one-command job).
    """
    reconcile(store)
    job = store.get(job_id)
    if job.status.is_active:
        raise JobcoreError(f"job {job.id} is {job.status.value}; retry it once it has ended")
    _check_folder(state, job.id)
    if not job.is_batch:
        if items:
            raise JobcoreError(f"job {job.id} is not a batch; it has no items to name")
        if job.status is not JobStatus.FAILED:
            raise JobcoreError(f"job {job.id} is {job.status.value}; only failed jobs are retried")
        resume(state, store, job.id)
        return 1
    changed = ItemBook(store, job.id).retry_failed(list(items) or None)
    if not changed:
        what = "none of the named items has failed" if items else "it has no failed items"
        raise JobcoreError(f"nothing to retry in job {job.id}: {what}")
    with store.write() as conn:
        record_event(conn, job.id, "retried", "user", f"{changed} failed item(s)")
    resume(state, store, job.id)
    return changed
