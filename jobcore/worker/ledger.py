"""A batch worker's ledger: ready items handed out from memory, checkpoints in few commits.

An ended attempt is committed at once (an item is done only with its result); what is only
shown waits up to FLUSH_S; pending items are read ahead; while the database cannot be
written, results wait in memory and no item starts; backoffs are on the boot clock
(docs/decisions/0011-batch-ledger-few-commits.md).
"""

from __future__ import annotations

import sqlite3
import time
from collections import deque
from collections.abc import Callable
from functools import partial

from jobcore.base import clock
from jobcore.state import transitions
from jobcore.state.items import ItemBook, ItemRecord, ItemStatus, Outcome, backoff_delay
from jobcore.state.progress_rows import apply_progress
from jobcore.state.store import Store

FLUSH_S = 0.025
"""The longest what is only shown (running marks, the job's counts) waits to be committed."""
READ_AHEAD = 64
"""Pending items read per query (a query per item would cost as much as a commit)."""
REREAD_S = 0.2
"""After a read found fewer than READ_AHEAD ready items, the next read waits this long
(until then nothing becomes ready but retries in backoff and a ``jobcore retry``)."""


class Ledger:
    """Hands out a batch's ready items and checkpoints their attempts, for one worker."""

    def __init__(
        self,
        store: Store,
        job_id: str,
        retries: int,
        backoff: float,
        shown: Callable[[str], str] | None = None,
    ) -> None:
        self.store = store
        self.shown = shown
        """Masks what is stored of an item for people to read (current item, error line)."""
        self.job_id = job_id
        self.retries = retries
        self.backoff = backoff
        self.book = ItemBook(store, job_id)
        self._ready: deque[ItemRecord] = deque()
        self._read_after = 0.0
        self._started: dict[int, ItemRecord] = {}
        """Attempts begun and not yet marked running in the database, by item index."""
        self._began: dict[int, float] = {}
        """When each running attempt began, on the boot clock (its duration never jumps)."""
        self._unrecorded: list[tuple[ItemRecord, Outcome, float, float | None]] = []
        """Ended attempts the database could not take yet: (record, outcome, wall time of
        the end, duration)."""
        self._done = self._failed = 0
        """Items done and failed for good since the job's counts were last committed."""
        self._current: str | None = None
        self._flushed_at = 0.0

    def take(self) -> ItemRecord | None:
        """The next ready item, its attempt begun (counted, timed); None if none is ready now
        (or while ended attempts wait for the database)."""
        if not self._record_ended():
            return None
        if not self._ready and time.monotonic() >= self._read_after:
            # What is already taken must be in the database before reading on.
            if not self.store.patience.attempt(self._flush_briefly):
                return None
            rows = self._read_ready()
            if len(rows) < READ_AHEAD:
                self._read_after = time.monotonic() + REREAD_S
            self._ready.extend(rows)
        if not self._ready:
            return None
        record = self._ready.popleft()
        record = record._replace(
            status=ItemStatus.RUNNING,
            attempts=record.attempts + 1,
            started_at=clock.wall(),
            finished_at=None,
            duration=None,
        )
        self._started[record.idx] = record
        self._began[record.idx] = clock.since_boot()
        self._current = self._shown(record.item)
        return record

    def ended(self, attempts: list[tuple[ItemRecord, Outcome]]) -> None:
        """Attempts that ended (done, failed, or to be retried), committed at once if the
        database can take them, else kept and tried again (see ``take``, ``settle``)."""
        at, now = clock.wall(), clock.since_boot()
        for record, outcome in attempts:
            began = self._began.pop(record.idx, None)
            self._started.pop(record.idx, None)  # its result says more than its mark
            self._unrecorded.append((record, outcome, at, None if began is None else now - began))
        self._record_ended()

    def next_ready_at(self) -> float | None:
        """When (boot clock) the earliest pending item may start (None: nothing is left)."""
        if self._ready or self._unrecorded:
            return 0.0
        self.store.patience.call(self.flush)
        now = clock.now()
        row = self.store.conn.execute(
            "SELECT MIN(CASE WHEN not_before IS NULL OR not_before_boot IS NOT ? THEN 0"
            " ELSE not_before END) FROM items WHERE job_id = ? AND status = 'pending'",
            (now.boot, self.job_id),
        ).fetchone()
        return row[0]

    def flush_in(self, limit: float) -> float:
        """Seconds until what is only shown (or an ended attempt kept back) is due to be
        committed (``limit``: nothing is)."""
        if self._unrecorded:
            return min(limit, self.store.patience.wait_s())
        if not self._started and not self._done and not self._failed:
            return limit
        return min(limit, max(0.0, self._flushed_at + FLUSH_S - time.monotonic()))

    def flush_if_due(self) -> None:
        if self._record_ended() and self.flush_in(1.0) == 0.0:
            self.store.patience.attempt(self._flush_briefly)

    def requeue(self, records: list[ItemRecord]) -> None:
        """Interrupted attempts (stop, pause) back to pending, their attempt not counted.

        Everything still kept back is written first, however long the database takes.
        """
        self.settle()
        for record in records:
            self._began.pop(record.idx, None)
            self.store.patience.call(partial(self.book.requeue, record))

    def settle(self) -> None:
        """Write every ended attempt kept back and the marks, waiting as the store says."""
        self.store.patience.call(self._commit_ended)
        self.store.patience.call(self.flush)

    def flush(self) -> None:
        """Commit the started marks and the job's progress now."""
        if self._started or self._done or self._failed:
            with self.store.write() as conn:
                self._write_marks(conn, self._done, self._failed)
            self._marks_written()

    def _flush_briefly(self) -> None:
        with self.store.briefly():
            self.flush()

    def _record_ended(self) -> bool:
        """Try to commit the ended attempts kept back (if the backoff allows); whether none
        is left."""
        if self._unrecorded:
            self.store.patience.attempt(self._commit_ended_briefly)
        return not self._unrecorded

    def _commit_ended_briefly(self) -> None:
        with self.store.briefly():
            self._commit_ended()

    def _commit_ended(self) -> None:
        """Ended attempts in one transaction, with the marks if they are due."""
        if not self._unrecorded:
            return
        with self.store.write() as conn:
            statuses = [self._record(conn, *ended) for ended in self._unrecorded]
            done = self._done + statuses.count(ItemStatus.DONE)
            failed = self._failed + statuses.count(ItemStatus.FAILED)
            flush = bool(self._started or done or failed) and (
                time.monotonic() >= self._flushed_at + FLUSH_S
            )
            if flush:
                self._write_marks(conn, done, failed)
        self._unrecorded.clear()
        if ItemStatus.PENDING in statuses:
            self._read_after = 0.0  # a retry: look again once its backoff is over
        if flush:
            self._marks_written()
        else:
            self._done, self._failed = done, failed

    def _write_marks(self, conn: sqlite3.Connection, done: int, failed: int) -> None:
        transitions.start_items(
            conn, self.job_id, [(r.idx, r.attempts, r.started_at) for r in self._started.values()]
        )
        # Counted incrementally: a recount per commit would make a batch quadratic.
        apply_progress(conn, self.job_id, advance=done, errors=failed, item=self._current)

    def _marks_written(self) -> None:
        self._started.clear()
        self._done = self._failed = 0
        self._flushed_at = time.monotonic()

    def _shown(self, text: str) -> str:
        return text if self.shown is None else self.shown(text)

    def _read_ready(self) -> list[ItemRecord]:
        now = clock.now()
        rows = self.store.conn.execute(
            "SELECT * FROM items WHERE job_id = ? AND status = 'pending' AND (not_before IS NULL"
            " OR not_before_boot IS NOT ? OR not_before <= ?) ORDER BY idx LIMIT ?",
            (self.job_id, now.boot, now.t, READ_AHEAD),
        ).fetchall()
        return [ItemRecord.from_row(row) for row in rows]

    def _record(
        self,
        conn: sqlite3.Connection,
        record: ItemRecord,
        outcome: Outcome,
        at: float,
        duration: float | None,
    ) -> ItemStatus:
        """One ended attempt: done, failed for good, or pending again after a backoff."""
        retry_at = None
        if outcome.ok:
            status = ItemStatus.DONE
        elif record.attempts <= self.retries:
            status = ItemStatus.PENDING
            # From when it is recorded: an attempt kept back by a locked database still
            # waits its whole backoff.
            now = clock.now()
            retry_at = now._replace(t=now.t + backoff_delay(self.backoff, record.attempts))
        else:
            status = ItemStatus.FAILED
        error = None if outcome.ok or outcome.error is None else self._shown(outcome.error)
        end = transitions.ItemEnd(
            record.idx,
            status.value,
            record.attempts,
            outcome.exit_code,
            error,
            outcome.result,
            record.started_at,
            at,
            duration,
            retry_at,
        )
        transitions.end_item(conn, self.job_id, end)
        return status
