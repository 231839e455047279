"""Start waiting jobs: a waiting job is a row, and whoever finds its turn come starts it.

The command that queued it, a worker whose job just ended or the dispatcher calls
``start_waiting``: take a group slot, claim the first job in line in one transaction
(``jobcore.state.transitions.claim``), spawn its worker with the claim and the slot; a dead
starter's claim goes back in line (docs/decisions/0005-group-slot-is-an-inherited-flock.md).
``wake`` pokes the dispatcher's FIFO or starts one
(docs/decisions/0006-dispatcher-sleeps-on-pidfds-and-a-fifo.md).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from typing import NamedTuple

from jobcore.base import clock
from jobcore.base.errors import JobcoreError
from jobcore.ops.housekeeping import clean
from jobcore.ops.reconcile import reconcile
from jobcore.ops.wakeup import poke, start_dispatcher
from jobcore.procs.identity import is_alive, self_identity
from jobcore.state import transitions
from jobcore.state.models import Job, JobStatus, ProcessIdentity
from jobcore.state.paths import StateDir
from jobcore.state.queue import SlotFiles
from jobcore.state.store import Store
from jobcore.state.transitions import NEW_CLAIM, SELF_PAUSED, WAITING, record_event

LINGER_S = 5.0
"""How long a dispatcher stays after the last launch it made while nothing waits: a loop or
a script launching job after job hands it each launch (``jobcore.cli.handoff``)."""
PAUSED_GROUPS = "SELECT name FROM groups WHERE paused"
"""Groups whose waiting jobs wait for ``group resume``."""


class Claim(NamedTuple):
    job_id: str
    token: str


class AfterJob:
    """What a worker does once its job is recorded as ended: its freed slot goes to the
    next job in line, and the retention policy (``keep``) is applied."""

    def start_waiting(self, state: StateDir, store: Store) -> dict[str, JobcoreError]:
        """A running dispatcher (there is one while anything waits) starts the next job, as
        a fork of a process that belongs to no job and runs from a shallow stack; with none
        listening, this worker starts it itself."""
        if poke(state):
            return {}
        errors = start_waiting(state, store)
        ensure(state, store)
        return errors

    def clean(self, state: StateDir, store: Store, keep: int) -> None:
        clean(state, store, keep=keep, actor="worker")


AFTER_JOB = AfterJob()


def start_waiting(state: StateDir, store: Store) -> dict[str, JobcoreError]:
    """Start every waiting job whose turn has come; by job id, the errors of workers that
    would not start (those jobs are failed with the reason).

    Group by group: take a slot, claim the first job in line, spawn its worker with the slot,
    until the group has no free slot or no job ready. Then record what the others wait for.
    """
    errors: dict[str, JobcoreError] = {}
    me = self_identity()
    reconciled = False
    groups = store.conn.execute(
        f"SELECT DISTINCT w.grp, g.parallel FROM jobs w LEFT JOIN groups g ON g.name = w.grp"
        f" WHERE w.{WAITING} AND NOT COALESCE(g.paused, 0)"
    ).fetchall()
    for group, limit in groups:
        while True:
            slot, broken = None, None
            if limit is not None:
                try:
                    slot = SlotFiles(state, group).take(limit)
                except (OSError, JobcoreError) as exc:  # a planted symlink: fail, not loop
                    broken = f"cannot take a slot: {exc}"
                if slot is None and broken is None:
                    break
            try:
                if slot is not None and not reconciled:
                    reconcile(store)  # what a dead worker left that does not hold its slot
                    reconciled = True
                claim = claim_next(store, group, me)
                if claim is None:
                    break
                if broken is not None:
                    store.finish_if_active(
                        claim.job_id, JobStatus.FAILED, broken, expect_worker=None, actor="queue"
                    )
                    continue
                from jobcore.ops.spawn import spawn_worker  # not for readers: 2 ms of `ls`

                try:
                    spawn_worker(
                        state,
                        store,
                        claim.job_id,
                        claim=claim.token,
                        follow_ups=AFTER_JOB,
                        slot_fd=slot,
                    )
                except JobcoreError as exc:  # the job is failed with the reason
                    errors[claim.job_id] = exc
            finally:
                if slot is not None:
                    os.close(slot)  # the worker holds its own descriptor of it now
    _mark_waiting(store)
    return errors


def claim_next(store: Store, group: str, me: ProcessIdentity) -> Claim | None:
    """Claim the first job of ``group`` whose turn has come (priority, then first queued).

    Looked for first without the write lock: a starter that finds nothing (the usual end of
    a pass) then takes no lock a worker it just forked would have to wait a millisecond for."""
    waiting = f"SELECT 1 FROM jobs WHERE grp = ? AND {WAITING} LIMIT 1"
    if store.conn.execute(waiting, (group,)).fetchone() is None:
        return None  # one queued after this looked is started by whoever queued it
    with store.write() as conn:
        rows = conn.execute(
            f"SELECT id, after, not_before FROM jobs WHERE grp = ? AND {WAITING}"
            f" AND grp NOT IN ({PAUSED_GROUPS})"  # paused since the starter looked
            " ORDER BY front DESC, priority DESC, seq",
            (group,),
        )
        now = clock.wall()
        for row in rows:  # read one by one: the first in line usually starts
            if _waits_on(conn, row, now) is not None:
                continue
            token = os.urandom(8).hex()
            if transitions.claim(conn, row["id"], token, me):
                return Claim(row["id"], token)
    return None


def _waits_on(conn: sqlite3.Connection, row: sqlite3.Row, now: float) -> str | None:
    """What a waiting row still waits for: ``delay``, ``deps``, or None (its turn may come)."""
    if row["not_before"] is not None and now < row["not_before"]:
        return "delay"
    for dep in json.loads(row["after"]):
        found = conn.execute("SELECT status FROM jobs WHERE id = ?", (dep,)).fetchone()
        if found is None or found["status"] != JobStatus.COMPLETED.value:
            return "deps"
    return None


WAITS_ONLY_FOR_A_SLOT = (
    f"waiting_on IS 'slot' AND after = '[]' AND not_before IS NULL AND grp NOT IN ({PAUSED_GROUPS})"
)
"""A waiting row already marked as waiting for a slot, with nothing else to wait for: it
stays so until it starts, so each pass looks only at the others (a queue of thousands)."""


def _mark_waiting(store: Store) -> None:
    """Record what each waiting job waits for (shown by ``ls``), and fail those whose
    dependency failed or is gone: they would wait for ever."""
    rows = store.conn.execute(
        f"SELECT id, after, not_before, waiting_on, grp IN ({PAUSED_GROUPS}) AS paused"
        f" FROM jobs WHERE {WAITING} AND NOT ({WAITS_ONLY_FOR_A_SLOT})"
    ).fetchall()
    now = clock.wall()
    changes: dict[str, str | None] = {}
    failures: dict[str, str] = {}
    for row in rows:
        broken = _broken_dependency(store, row["after"])
        if broken is not None:
            failures[row["id"]] = broken
            continue
        what = "paused" if row["paused"] else _waits_on(store.conn, row, now) or "slot"
        if what != row["waiting_on"]:
            changes[row["id"]] = what
    if not changes and not failures:
        return
    with store.write() as conn:
        for job_id, waits_on in changes.items():
            conn.execute(
                f"UPDATE jobs SET waiting_on = ? WHERE id = ? AND {WAITING}", (waits_on, job_id)
            )
        for job_id, reason in failures.items():
            transitions.fail_waiting(conn, job_id, reason, actor="queue")


def _broken_dependency(store: Store, after: str) -> str | None:
    for dep in json.loads(after):
        found = store.conn.execute("SELECT status FROM jobs WHERE id = ?", (dep,)).fetchone()
        if found is None:
            return f"dependency {dep} is gone"
        if found["status"] in (JobStatus.FAILED.value, JobStatus.CANCELLED.value):
            return f"dependency {dep} {found['status']}"
    return None


DEAD_CLAIMS = (
    "SELECT id, claim, claimer_pid, claimer_start, claimer_boot FROM jobs"
    " WHERE status = 'queued' AND claim IS NOT NULL AND worker_pid IS NULL"
)
"""Jobs being started (or still written by their launcher): those whose claimer died."""


def release_dead_claims(store: Store, job_id: str | None = None) -> int:
    """Put back in line the claims whose starter died before a worker was recorded (it was
    killed between its claim and the spawn); how many. A worker that starter may still have
    started finds its claim token gone and leaves without running anything. A job whose
    launcher died before it was written in full is removed instead (``_unlaunched``).
    ``job_id``: that job only."""
    one = "" if job_id is None else " AND id = ?"
    rows = store.conn.execute(DEAD_CLAIMS + one, () if job_id is None else (job_id,)).fetchall()
    released = 0
    for row in rows:
        claimer = ProcessIdentity(row["claimer_pid"], row["claimer_start"], row["claimer_boot"])
        if is_alive(claimer):
            continue
        if row["claim"] == NEW_CLAIM and _unlaunched(store, row["id"]):
            continue
        with store.write() as conn:
            released += transitions.release_claim(conn, row["id"], row["claim"])
    return released


def _unlaunched(store: Store, job_id: str) -> bool:
    """Remove a job its dead launcher had not finished writing (its record, written last,
    is missing); whether it was."""
    try:
        written = stat.S_ISREG(os.lstat(store.state.record_path(job_id)).st_mode)
    except FileNotFoundError:
        written = False
    if written:
        return False
    dropped = store.delete_job(job_id, unlaunched=True)
    if dropped:
        store.state.remove_job_dir(job_id)
    return dropped


def resume_due(store: Store) -> None:
    """Put self-paused jobs whose ``retry_after`` has passed back in line."""
    now = clock.now()
    wall = clock.wall()
    rows = store.conn.execute(
        f"SELECT id, paused_until, due_clock, due_boot FROM jobs WHERE {SELF_PAUSED}"
    ).fetchall()
    for row in rows:
        if _due_in(row, now, wall) > 0:
            continue
        with store.write() as conn:
            transitions.resume_self_paused(conn, row["id"], row["paused_until"])


def _due_in(row: sqlite3.Row, now: clock.Stamp, wall: float) -> float:
    """Seconds until a self-paused job resumes: on the boot clock where it was recorded in
    this boot (a step of the wall clock moves nothing), else by the wall clock."""
    if row["due_clock"] is not None and row["due_boot"] == now.boot:
        return float(row["due_clock"] - now.t)
    return float(row["paused_until"] - wall)


def next_due(store: Store) -> float | None:
    """Seconds until the earliest ``--delay``/``--at`` or ``retry_after`` comes (None: none)."""
    now, wall = clock.now(), clock.wall()
    times = [
        row[0] - wall
        for row in store.conn.execute(
            f"SELECT not_before FROM jobs WHERE {WAITING} AND not_before IS NOT NULL"
        )
    ]
    times += [
        _due_in(row, now, wall)
        for row in store.conn.execute(
            f"SELECT paused_until, due_clock, due_boot FROM jobs WHERE {SELF_PAUSED}"
        )
    ]
    return min(times, default=None)


def has_waiting(store: Store) -> bool:
    """Whether a job waits (queued with no worker yet, or self-paused): a dispatcher must live."""
    return (
        store.conn.execute(
            "SELECT 1 FROM jobs WHERE (status = 'queued' AND worker_pid IS NULL AND held = 0"
            f" AND grp NOT IN ({PAUSED_GROUPS}))"
            f" OR ({SELF_PAUSED}) LIMIT 1"
        ).fetchone()
        is not None
    )


def hold(store: Store, job_id: str) -> None:
    """Keep a waiting job in line without starting it (as ``run --hold``) until ``release``
    or ``start``; one already being started is past holding."""
    with store.write() as conn:
        if not conn.execute(
            f"UPDATE jobs SET held = 1, waiting_on = 'held' WHERE id = ? AND {WAITING}",
            (job_id,),
        ).rowcount:
            found = conn.execute("SELECT status, held FROM jobs WHERE id = ?", (job_id,)).fetchone()
            what = (
                "gone"
                if found is None
                else "held already"
                if found["held"]
                else (found["status"] if found["status"] != "queued" else "starting")
            )
            raise JobcoreError(f"job {job_id} is {what}, not waiting to start")
        record_event(conn, job_id, "held", "user")


def release(state: StateDir, store: Store, job_id: str) -> None:
    """Let a held job wait in line like any other; it starts now if its turn has come."""
    with store.write() as conn:
        if not conn.execute(
            "UPDATE jobs SET held = 0, waiting_on = NULL WHERE id = ? AND status = 'queued'"
            " AND held = 1",
            (job_id,),
        ).rowcount:
            raise JobcoreError(f"job {job_id} is not held")
        record_event(conn, job_id, "released", "user")
    start_now_or_later(state, store, job_id)


def start_now(state: StateDir, store: Store, job_id: str, *, force: bool = False) -> None:
    """Start a queued, held or delayed job now: its delay and hold are dropped and it goes
    to the head of its group's line, so it takes the next free slot (it still waits for its
    ``--after`` jobs). ``force`` starts it at once beside its group's limit, with no slot."""
    with store.write() as conn:
        if not conn.execute(
            "UPDATE jobs SET held = 0, front = 1, not_before = NULL, waiting_on = NULL"
            " WHERE id = ? AND status = 'queued' AND claim IS NULL AND worker_pid IS NULL",
            (job_id,),
        ).rowcount:
            found = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            what = found["status"] if found is not None else "gone"
            raise JobcoreError(f"job {job_id} is {what}, not waiting to start")
        record_event(conn, job_id, "start", "user", "beside the group limit" if force else None)
    if not force:
        start_now_or_later(state, store, job_id)
        return
    claim = _claim_one(store, job_id, self_identity())
    from jobcore.ops.spawn import spawn_worker

    spawn_worker(state, store, job_id, claim=claim.token, follow_ups=AFTER_JOB)


def _claim_one(store: Store, job_id: str, me: ProcessIdentity) -> Claim:
    """Claim one waiting job whatever its place in line; refused while its dependencies
    have not completed."""
    with store.write() as conn:
        row = conn.execute(
            f"SELECT id, after, not_before FROM jobs WHERE id = ? AND {WAITING}", (job_id,)
        ).fetchone()
        if row is None:
            raise JobcoreError(f"job {job_id} is already starting")
        if _waits_on(conn, row, clock.wall()) == "deps":
            raise JobcoreError(f"job {job_id} waits for {', '.join(json.loads(row['after']))}")
        token = os.urandom(8).hex()
        transitions.claim(conn, job_id, token, me)
        return Claim(job_id, token)


def start_now_or_later(state: StateDir, store: Store, job_id: str) -> None:
    """A job was just queued (launched, resumed, restarted, edited): start it now if its turn
    has come, else leave it to the dispatcher; raise why its worker would not start."""
    errors = start_waiting(state, store)
    wake(state, store)
    if job_id in errors:
        raise errors[job_id]


def wake(state: StateDir, store: Store) -> None:
    """Make sure the queue is looked at: wake the dispatcher, or start one if something waits.

    Called after the change is committed. A dispatcher about to exit closes its FIFO, then
    its lock, then looks again: whatever was committed before this call is seen by it or
    by the one started here.
    """
    if not poke(state):
        ensure(state, store)


def keep_warm(state: StateDir, previous: float | None, job: Job) -> None:
    """After a launch made by ``jobcore run`` itself: one that came less than ``LINGER_S``
    after the job before (a loop, a script) starts a dispatcher to take the next ones."""
    if previous is not None and 0 <= job.created_at - previous < LINGER_S:
        start_dispatcher(state)


def ensure(state: StateDir, store: Store) -> None:
    """Start a dispatcher if something waits and none runs (no wake-up for one that does)."""
    if has_waiting(store):
        start_dispatcher(state)


def check(store: Store) -> None:
    """What every reading command does first: the liveness check, then make sure waiting
    work has a dispatcher (after a reboot, or a dispatcher killed, the next command starts one)."""
    reconcile(store)
    if release_dead_claims(store):
        wake(store.state, store)
    else:
        ensure(store.state, store)
