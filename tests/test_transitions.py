"""Random sequences of state transitions on a real SQLite store keep the invariants.

A model says what each transition may do; after every step the database must agree:
one worker per job and run, final states left only by a person's resume or restart, no
item done twice in one run of it, every status change recorded as an event.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from jobcore.state import transitions
from jobcore.state.item_text import to_db
from jobcore.state.items import ItemStatus
from jobcore.state.models import FINAL_STATUSES, JobStatus, ProcessIdentity
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from jobcore.state.transitions import Finish, ItemEnd

WORKERS = [ProcessIdentity(100 + n, 1000.0 + n, "boot") for n in range(2)]
ITEMS = ["a", "b", "c"]
ENDINGS = [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.PAUSED, JobStatus.CANCELLED]
STATUS_EVENTS = (
    "started",
    "completed",
    "failed",
    "paused",
    "cancelled",
    "killed",
    "resumed",
    "restarted",
)


class Transitions(RuleBasedStateMachine):
    """One batch job of three items, driven through any order of transitions."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        state = StateDir(Path(self.tmp.name) / "state")
        state.ensure()
        self.store = Store(state)
        job = self.store.create_job(["true"], "/", {}, None, spec={"each": "x"}, items=ITEMS)
        self.job_id = job.id
        self.token: str | None = None
        self.worker: ProcessIdentity | None = None
        self.status = JobStatus.QUEUED
        self.status_changes = 0
        self.done_in_run: dict[int, int] = {}

    def teardown(self) -> None:
        self.store.close()
        self.tmp.cleanup()

    def row(self) -> dict[str, object]:
        return dict(
            self.store.conn.execute("SELECT * FROM jobs WHERE id = ?", (self.job_id,)).fetchone()
        )

    def moved(self, changed: bool, to: JobStatus) -> None:
        if changed:
            self.status = to
            self.status_changes += 1

    # -- jobs ------------------------------------------------------------------------------

    @rule(token=st.sampled_from(["t1", "t2"]), starter=st.sampled_from(WORKERS))
    def claim(self, token: str, starter: ProcessIdentity) -> None:
        waiting = self.status is JobStatus.QUEUED and self.token is None and self.worker is None
        with self.store.write() as conn:
            assert transitions.claim(conn, self.job_id, token, starter) == waiting
        if waiting:
            self.token = token

    @rule(token=st.sampled_from(["t1", "t2"]))
    def release_claim(self, token: str) -> None:
        with self.store.write() as conn:
            released = transitions.release_claim(conn, self.job_id, token)
        assert released == (self.token == token and self.worker is None)
        if released:
            self.token = None

    @rule(token=st.sampled_from(["t1", "t2"]), me=st.sampled_from(WORKERS))
    def adopt(self, token: str, me: ProcessIdentity) -> None:
        with self.store.write() as conn:
            refused = transitions.adopt(conn, self.job_id, token, me)
        ours = self.status is JobStatus.QUEUED and self.token == token and self.worker in (None, me)
        assert (refused is None) == ours, refused
        if ours:
            self.worker = me

    @rule(me=st.sampled_from(WORKERS))
    def mark_running(self, me: ProcessIdentity) -> None:
        with self.store.write() as conn:
            changed = transitions.mark_running(conn, self.job_id, me)
        assert changed == (self.status is JobStatus.QUEUED and self.worker == me)
        self.moved(changed, JobStatus.RUNNING)

    @rule(to=st.sampled_from(ENDINGS), who=st.sampled_from([None, *WORKERS]))
    def finish(self, to: JobStatus, who: ProcessIdentity | None) -> None:
        with self.store.write() as conn:
            changed = transitions.finish_if_active(
                conn, self.job_id, Finish(to, "why"), expect_worker=who, actor="test"
            )
        assert changed == (self.status.is_active and self.worker == who)
        self.moved(changed, to)
        if changed:
            self.token = None  # an ended job's claim is spent

    @rule(kill=st.booleans())
    def request_stop(self, kill: bool) -> None:
        with self.store.write() as conn:
            asked = transitions.request_stop(conn, self.job_id, 1.0, kill=kill)
        assert asked == self.status.is_active

    @rule()
    def fail_waiting(self) -> None:
        waiting = self.status is JobStatus.QUEUED and self.token is None and self.worker is None
        with self.store.write() as conn:
            changed = transitions.fail_waiting(conn, self.job_id, "dependency gone", "queue")
        assert changed == waiting
        self.moved(changed, JobStatus.FAILED)

    @rule(fresh=st.booleans())
    def requeue(self, fresh: bool) -> None:
        allowed = transitions.RESTARTABLE if fresh else transitions.RESUMABLE
        with self.store.write() as conn:
            changed = transitions.requeue(
                conn,
                self.job_id,
                fresh=fresh,
                actor="user",
                reason=None,
                kind="restarted" if fresh else "resumed",
                from_statuses=allowed,
            )
            if changed and fresh:
                transitions.reset_items(conn, self.job_id, only_failed=False)
        assert changed == (self.status in allowed)
        self.moved(changed, JobStatus.QUEUED)
        if changed:
            self.token, self.worker = None, None
            if fresh:
                self.done_in_run = {}

    # -- items ------------------------------------------------------------------------------

    @rule(idx=st.integers(0, len(ITEMS) - 1))
    def start_item(self, idx: int) -> None:
        with self.store.write() as conn:
            transitions.start_items(conn, self.job_id, [(idx, 1, 1.0)])

    @rule(idx=st.integers(0, len(ITEMS) - 1), to=st.sampled_from(list(ItemStatus)))
    def end_item(self, idx: int, to: ItemStatus) -> None:
        before = self.item_status(idx)
        end = ItemEnd(idx, to.value, 1, 0, None, None, 1.0, 2.0, 1.0, None)
        with self.store.write() as conn:
            recorded = transitions.end_item(conn, self.job_id, end)
        assert recorded == (before in (ItemStatus.PENDING, ItemStatus.RUNNING))
        if recorded and to is ItemStatus.DONE:
            self.done_in_run[idx] = self.done_in_run.get(idx, 0) + 1

    @rule(idx=st.one_of(st.none(), st.integers(0, len(ITEMS) - 1)))
    def interrupt_items(self, idx: int | None) -> None:
        with self.store.write() as conn:
            transitions.interrupt_items(conn, self.job_id, idx)

    @precondition(lambda self: not self.status.is_active)
    @rule(names=st.one_of(st.none(), st.lists(st.sampled_from(ITEMS), min_size=1, max_size=2)))
    def retry_failed(self, names: list[str] | None) -> None:
        failed = {
            i
            for i, item in enumerate(ITEMS)
            if self.item_status(i) is ItemStatus.FAILED and (names is None or item in names)
        }
        with self.store.write() as conn:
            reset = transitions.reset_items(
                conn,
                self.job_id,
                only_failed=True,
                items=None if names is None else [to_db(n) for n in names],
            )
        assert reset == len(failed)

    def item_status(self, idx: int) -> ItemStatus:
        row = self.store.conn.execute(
            "SELECT status FROM items WHERE job_id = ? AND idx = ?", (self.job_id, idx)
        ).fetchone()
        return ItemStatus(row[0])

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def the_row_says_what_the_model_says(self) -> None:
        row = self.row()
        assert row["status"] == self.status.value
        recorded = None if row["worker_pid"] is None else (row["worker_pid"], row["worker_start"])
        expected = None if self.worker is None else (self.worker.pid, self.worker.start)
        assert recorded == expected  # one worker per job, and only the one that adopted it

    @invariant()
    def a_running_job_has_its_worker(self) -> None:
        if self.status is JobStatus.RUNNING:
            assert self.row()["worker_pid"] is not None

    @invariant()
    def final_states_hold_no_claim(self) -> None:
        if self.status in FINAL_STATUSES:
            assert self.row()["claim"] is None

    @invariant()
    def no_item_is_done_twice_in_a_run(self) -> None:
        assert all(count <= 1 for count in self.done_in_run.values())

    @invariant()
    def every_status_change_is_an_event(self) -> None:
        events = self.store.conn.execute(
            f"SELECT COUNT(*) FROM events WHERE job_id = ? AND kind IN"
            f" ({','.join('?' * len(STATUS_EVENTS))})",
            (self.job_id, *STATUS_EVENTS),
        ).fetchone()[0]
        assert events == self.status_changes


Transitions.TestCase.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
test_transitions = Transitions.TestCase
