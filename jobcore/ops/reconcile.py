"""Reconcile recorded state with the processes that exist: a dead worker's job turns failed.

An operation, not a process fact: it reads and writes the store and stops what a dead worker
left, so it lives above ``jobcore.procs`` (which only says whether a process is ours).
"""

from __future__ import annotations

from jobcore.procs.cgroup import recorded_cgroup
from jobcore.procs.identity import is_alive
from jobcore.state.models import ACTIVE_STATUSES, Job, JobStatus
from jobcore.state.store import Store

ORPHAN_GRACE_S = 1.0
"""SIGTERM to SIGKILL for what a dead worker left running."""

WORKER_DIED = "worker died unexpectedly"


def reconcile(store: Store, actor: str = "liveness") -> list[Job]:
    """Mark active jobs whose worker is gone as failed; return the jobs it changed.

    Called by every reading command and the dispatcher, so a dead worker is reported at
    once. A queued job with no worker is not dead: it waits for its turn, or is being
    started (see ``jobcore.ops.dispatch.release_dead_claims`` for a starter that died). The
    update is conditional on the row still naming the dead worker, so a worker that
    finished (and wrote its own final state) just before dying is never overwritten.
    """
    changed: list[Job] = []
    rows = store.conn.execute(
        "SELECT * FROM jobs WHERE status IN (?, ?) AND worker_pid IS NOT NULL", ACTIVE_STATUSES
    ).fetchall()
    for job in map(Job.from_row, rows):
        assert job.worker is not None
        if is_alive(job.worker):
            continue
        # The command outlives a worker killed with SIGKILL: stop what is left, or the job
        # reads "failed" while it still runs (and a resume would run it twice). Snapshot
        # before the row changes hands, so a worker started by a resume is never touched.
        from jobcore.procs.tree import job_processes, terminate  # psutil: only for the dead

        group = recorded_cgroup(store.state, job.id)  # its run's own: a resume makes another
        leftovers = job_processes(store.state.job_marker(job.id), None) if group is None else []
        if store.finish_if_active(
            job.id, JobStatus.FAILED, WORKER_DIED, expect_worker=job.worker, actor=actor
        ):
            terminate(leftovers, ORPHAN_GRACE_S)
            if group is not None:
                group.stop(ORPHAN_GRACE_S)
                group.remove()
            changed.append(store.get(job.id))
    return changed
