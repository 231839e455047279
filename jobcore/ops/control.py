"""Act on jobs: stop (pause), kill and resume. The CLI and the dashboard both call these.

Stopping is cooperative first and forceful second: the request (and its grace) is written to
the row. A one-command job's tree (not the worker) is terminated here, and the worker, seeing
its command end, records the outcome the request asked for. A batch's worker stops its items
itself, with the stop's grace, keeping their last output. Only if the worker does not finish
in time is its tree stopped here, then the worker killed, and the row finished here,
conditionally, so nothing is written twice.

A stop can die half-way (Ctrl-C, a lost SSH session) or race the command's own end. So the
row says ``stop_signalled`` only once the stop is about to signal a command that still runs
(committed before the first signal, so a worker that collects a death by our signal always
sees it): a command that ended by itself, unsignalled, keeps its own ending. The one window
left is a command ending on its own in the milliseconds between that commit and the signal;
it is recorded stopped, which a resume undoes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Sequence

from jobcore.base.errors import JobcoreError
from jobcore.ops.housekeeping import delete_ended
from jobcore.ops.reconcile import reconcile
from jobcore.procs.cgroup import recorded_cgroup
from jobcore.procs.identity import is_alive, process_of
from jobcore.procs.tree import kill_job_tree, terminate
from jobcore.state import launch_env, transitions
from jobcore.state.items import ItemBook, ItemStatus, counts
from jobcore.state.models import CANCELLED_REASON, Job, JobStatus
from jobcore.state.paths import StateDir, open_private
from jobcore.state.store import Store
from jobcore.state.transitions import record_event

MAX_GRACE_S = 86400.0
"""A day: a longer grace is a typo (or ``inf``), not a cleanup."""
WORKER_FINISH_S = 3.0
"""How long the worker gets to record the outcome after its command's tree is gone."""


def _wait_worker_gone(job: Job, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while job.worker is not None and is_alive(job.worker):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def stop(store: Store, job_id: str, grace: float | None = None, *, kill: bool = False) -> Job:
    """Stop a queued or running job's whole tree. ``kill``: no grace, and the job fails.

    ``grace`` defaults to the state folder's ``grace`` setting (the CLI's and the dashboard's
    stop alike). A stopped job becomes ``paused`` (resumable); a killed one ``failed`` with
    reason "killed", or ``cancelled`` if it was queued and had never started.
    """
    if grace is None:
        from jobcore.state import config

        grace = config.load(store.state)["grace"]
    if not 0 <= grace <= MAX_GRACE_S:
        raise JobcoreError(f"a stop's grace is seconds from 0 to {MAX_GRACE_S:.0f}, not {grace}")
    grace = 0.0 if kill else grace
    reconcile(store)
    job = store.get(job_id)
    if job.status is JobStatus.PAUSED and job.paused_until is not None:
        return _cancel_auto_resume(store, job)
    if not job.status.is_active:
        raise JobcoreError(f"job {job.id} is {job.status.value}; there is nothing to stop")
    with store.write() as conn:
        transitions.request_stop(conn, job.id, grace, kill=kill)
    job = store.get(job.id)  # the command may have started since the first look
    if job.is_batch and job.worker is not None:
        # The worker stops its items with this grace; the tree is ours only if it does not.
        handed_over = _wait_worker_gone(job, grace + WORKER_FINISH_S)
    else:
        _signal_command_tree(store, job, grace)
        handed_over = _wait_worker_gone(job, WORKER_FINISH_S)
    marker = store.state.job_marker(job.id)
    group = recorded_cgroup(store.state, job.id)
    if not handed_over:
        kill_job_tree(marker, job.worker, grace, cgroup=group)
    if job.worker is not None and (worker := process_of(job.worker)) is not None:
        terminate([worker], 0.0 if kill else 1.0)
    # What the worker left (a batch item's escapee).
    kill_job_tree(marker, None, grace, cgroup=group)
    status, reason = (JobStatus.FAILED, "killed") if kill else (JobStatus.PAUSED, "stopped by user")
    if job.stop_request == "cancel":
        status, reason = JobStatus.CANCELLED, CANCELLED_REASON
    store.finish_if_active(job.id, status, reason, expect_worker=job.worker, actor="user")
    return store.get(job.id)


def _signal_command_tree(store: Store, job: Job, grace: float) -> None:
    """Stop a one-command job's tree, first marking the row if its command still runs."""
    if job.command_proc is not None and is_alive(job.command_proc):
        with store.write() as conn:
            transitions.mark_stop_signalled(conn, job.id)
    kill_job_tree(store.state.job_marker(job.id), job.worker, grace)


def _cancel_auto_resume(store: Store, job: Job) -> Job:
    """A self-paused job waiting to resume by itself stays paused (it is only a row: the
    dispatcher that would have resumed it finds nothing due)."""
    with store.write() as conn:
        transitions.cancel_auto_resume(conn, job.id)
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


def resume(state: StateDir, store: Store, job_id: str, *, env_now: bool = False) -> Job:
    """Put a paused or failed job back in line (it starts at once if its turn has come);
    refused while it runs or once completed.

    The status check and the switch to ``queued`` happen in one write transaction, so two
    resumes at once cannot both win: the second sees ``queued`` and is refused. The job runs
    with the environment it was launched with; ``env_now``: with this process's, kept as the
    job's from then on.
    """
    reconcile(store)
    _check_folder(state, job_id)
    cwd = store.get(job_id).cwd
    if not os.path.isdir(cwd):
        raise JobcoreError(f"job {job_id} cannot resume: its cwd {cwd} no longer exists")
    with store.write() as conn:
        _check_resumable(conn, job_id)
        if env_now:
            launch_env.save(state, job_id, launch_env.current())
        transitions.requeue(
            conn,
            job_id,
            fresh=False,
            actor="user",
            kind="resumed",
            reason="with the current environment" if env_now else None,
            from_statuses=transitions.RESUMABLE,
        )
    from jobcore.ops import dispatch

    dispatch.start_now_or_later(state, store, job_id)
    return store.get(job_id)


def retry(
    state: StateDir,
    store: Store,
    job_id: str,
    items: Sequence[str] = (),
    *,
    env_now: bool = False,
) -> int:
    """Run failed items again (all, or those named) with a fresh retry budget, and resume
    (with the job's launch environment; ``env_now``: with this process's, see ``resume``).

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
        resume(state, store, job.id, env_now=env_now)
        return 1
    changed = ItemBook(store, job.id).retry_failed(list(items) or None)
    if not changed:
        what = "none of the named items has failed" if items else "it has no failed items"
        raise JobcoreError(f"nothing to retry in job {job.id}: {what}")
    with store.write() as conn:
        record_event(conn, job.id, "retried", "user", f"{changed} failed item(s)")
    resume(state, store, job.id, env_now=env_now)
    return changed


def remove(state: StateDir, store: Store, job_id: str, *, force: bool = False) -> Job:
    """``jobcore rm``: one job with its folder and log. A job with a process (queued,
    running, or paused waiting to resume by itself) is refused unless ``force``, which
    kills it first: a queued one that never started ends cancelled, then goes."""
    reconcile(store)
    job = store.get(job_id)
    if job.status.is_active or job.paused_until is not None:
        if not force:
            raise JobcoreError(
                f"job {job.id} is {job.status.value}; `jobcore rm --force {job.id}` kills it first"
            )
        job = stop(store, job.id, kill=True)
    if not delete_ended(state, store, job, "removed", "user"):
        raise JobcoreError(f"job {job.id} changed while it was being removed; try again")
    return job
