"""Run a finished job again: as a new job like it, or in place under the same id.

A new job gets the same command, cwd, launch environment, ``--env`` values, name, group,
priority, callback, masking and (for a batch) items: it goes through ``launcher.launch``
like any ``jobcore run``. In place, the row is put back to queued in one write transaction
that first checks it is still finished, so a restart racing a resume cannot run it twice;
its events stay and say it was restarted.
"""

from __future__ import annotations

from jobcore.base.errors import JobcoreError
from jobcore.ops.launcher import launch
from jobcore.ops.reconcile import reconcile
from jobcore.state import launch_env, transitions
from jobcore.state.item_text import from_db
from jobcore.state.items import recount_job
from jobcore.state.models import FINAL_STATUSES, BatchSpec, Job, QueueSpec
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from jobcore.state.transitions import record_event


def restart(
    state: StateDir,
    store: Store,
    job_id: str,
    *,
    failed_only: bool = False,
    in_place: bool = False,
) -> Job:
    """Run a completed, failed or cancelled job again; returns the job that will run.

    ``failed_only``: a batch runs only the items that failed. ``in_place``: the same id.
    """
    reconcile(store)
    job = store.get(job_id)
    if job.status not in FINAL_STATUSES:
        raise JobcoreError(
            f"job {job.id} is {job.status.value}; only completed, failed or cancelled jobs"
            " are restarted"
        )
    if failed_only and not job.is_batch:
        raise JobcoreError(f"job {job.id} is not a batch; --failed-only is for batches")
    items = _items(store, job, failed_only)
    if job.is_batch and not items:
        raise JobcoreError(f"job {job.id} has no failed items to run again")
    if in_place:
        return _in_place(state, store, job, failed_only)
    new = launch(
        state,
        store,
        job.command,
        cwd=job.cwd,
        env=job.env,
        name=job.name,
        batch=BatchSpec.of(job) if job.is_batch else None,
        items=items,
        queue=QueueSpec(job.queue.group, job.queue.priority),
        on_done=job.on_done,
        redact=job.redact,
        launched_env=launch_env.load(state, job.id),
    )
    with store.write() as conn:
        record_event(conn, new.id, "restarted", "user", f"a new run of {job.id}")
        record_event(conn, job.id, "restarted", "user", f"as {new.id}")
    return new


def _items(store: Store, job: Job, failed_only: bool) -> list[str]:
    """A batch's items in their order (only the failed ones with ``failed_only``)."""
    if not job.is_batch:
        return []
    sql = "SELECT item FROM items WHERE job_id = ?"
    if failed_only:
        sql += " AND status = 'failed'"
    return [from_db(r[0]) for r in store.conn.execute(sql + " ORDER BY idx", (job.id,))]


def _in_place(state: StateDir, store: Store, job: Job, failed_only: bool) -> Job:
    """The same row back to queued, its items to pending, then a new worker for it."""
    with store.write() as conn:
        if not transitions.requeue(
            conn,
            job.id,
            fresh=True,
            actor="user",
            kind="restarted",
            reason=f"was {job.status.value}, in place",
            from_statuses=transitions.RESTARTABLE,
        ):
            raise JobcoreError(f"job {job.id} changed meanwhile; it was not restarted")
        if job.is_batch:
            transitions.reset_items(conn, job.id, only_failed=failed_only)
            recount_job(conn, job.id)
    from jobcore.ops import dispatch

    dispatch.start_now_or_later(state, store, job.id)
    return store.get(job.id)
