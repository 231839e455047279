"""A batch worker's ledger: ready items handed out from memory, checkpoints in few commits.

Why: a commit costs about as much as the scheduler's whole Python work for an item, and an
item of ``true`` takes under a millisecond. Two commits per item (claim, then result) made
the worker, not the items, the bottleneck of a fast batch. So:

- An ended attempt is committed at once (with any others that ended in the same pass): an
  item is recorded done only in the transaction that records its result, and after a crash
  the only items run again are those that were in flight.
- What is only shown, not relied on, is committed at most every FLUSH_S, or with the next
  result: that an item started (it is pending in the database until then, so a crash runs
  it again, as an item in flight should be) and the job's counts, rate and current item
  (healed by a recount when a worker starts).
- Pending items are read ahead, READ_AHEAD at a time: only one worker runs a job (the
  queue's lock), so nothing else claims them, and a read comes after the marks are written.
"""

from __future__ import annotations

import sqlite3
import time
from collections import deque
from collections.abc import Callable

from jobcore.items import ItemBook, ItemRecord, ItemStatus, Outcome, backoff_delay
from jobcore.store import Store, apply_progress

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
        self._done = self._failed = 0
        """Items done and failed for good since the job's counts were last committed."""
        self._current: str | None = None
        self._flushed_at = 0.0

    def take(self) -> ItemRecord | None:
        """The next ready item, its attempt begun (counted, timed); None if none is ready now."""
        if not self._ready and time.monotonic() >= self._read_after:
            self.flush()  # what is already taken must be in the database before reading on
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
            started_at=time.time(),
            finished_at=None,
            duration=None,
        )
        self._started[record.idx] = record
        self._current = self._shown(record.item)
        return record

    def ended(self, attempts: list[tuple[ItemRecord, Outcome]]) -> None:
        """Attempts that ended (done, failed, or to be retried), committed at once."""
        if not attempts:
            return
        at = time.time()
        with self.store.write() as conn:
            for record, outcome in attempts:
                status = self._record(conn, record, outcome, at)
                self._started.pop(record.idx, None)
                self._done += status is ItemStatus.DONE
                self._failed += status is ItemStatus.FAILED
                if status is ItemStatus.PENDING:
                    self._read_after = 0.0  # a retry: look again once its backoff is over
            if self.flush_in(1.0) == 0.0:
                self._flush(conn)

    def next_ready_at(self) -> float | None:
        """When the earliest pending item may start (None: nothing is left to run)."""
        if self._ready:
            return 0.0
        self.flush()
        row = self.store.conn.execute(
            "SELECT MIN(COALESCE(not_before, 0)) FROM items"
            " WHERE job_id = ? AND status = 'pending'",
            (self.job_id,),
        ).fetchone()
        return row[0]

    def flush_in(self, limit: float) -> float:
        """Seconds until what is only shown is due to be committed (``limit``: nothing is)."""
        if not self._started and not self._done and not self._failed:
            return limit
        return min(limit, max(0.0, self._flushed_at + FLUSH_S - time.monotonic()))

    def flush_if_due(self) -> None:
        if self.flush_in(1.0) == 0.0:
            self.flush()

    def requeue(self, records: list[ItemRecord]) -> None:
        """Interrupted attempts (stop, pause) back to pending, their attempt not counted."""
        self.flush()
        for record in records:
            self.book.requeue(record)

    def flush(self) -> None:
        """Commit the started marks and the job's progress now."""
        if self._started or self._done or self._failed:
            with self.store.write() as conn:
                self._flush(conn)

    def _flush(self, conn: sqlite3.Connection) -> None:
        conn.executemany(
            "UPDATE items SET status = 'running', attempts = ?, started_at = ?,"
            " finished_at = NULL, duration = NULL WHERE job_id = ? AND idx = ?",
            [(r.attempts, r.started_at, self.job_id, r.idx) for r in self._started.values()],
        )
        # Counted incrementally: a recount per commit would make a batch quadratic.
        apply_progress(
            conn, self.job_id, advance=self._done, errors=self._failed, item=self._current
        )
        self._started.clear()
        self._done = self._failed = 0
        self._flushed_at = time.monotonic()

    def _shown(self, text: str) -> str:
        return text if self.shown is None else self.shown(text)

    def _read_ready(self) -> list[ItemRecord]:
        rows = self.store.conn.execute(
            "SELECT * FROM items WHERE job_id = ? AND status = 'pending'"
            " AND (not_before IS NULL OR not_before <= ?) ORDER BY idx LIMIT ?",
            (self.job_id, time.time(), READ_AHEAD),
        ).fetchall()
        return [ItemRecord.from_row(row) for row in rows]

    def _record(
        self, conn: sqlite3.Connection, record: ItemRecord, outcome: Outcome, at: float
    ) -> ItemStatus:
        """One ended attempt: done, failed for good, or pending again after a backoff."""
        if outcome.ok:
            status, not_before = ItemStatus.DONE, None
        elif record.attempts <= self.retries:
            status, not_before = (
                ItemStatus.PENDING,
                at + backoff_delay(self.backoff, record.attempts),
            )
        else:
            status, not_before = ItemStatus.FAILED, None
        conn.execute(
            "UPDATE items SET status = ?, attempts = ?, exit_code = ?, error = ?, result = ?,"
            " started_at = ?, finished_at = ?, duration = ?, not_before = ?, forgotten = 0"
            " WHERE job_id = ? AND idx = ?",
            (
                status.value,
                record.attempts,
                outcome.exit_code,
                None if outcome.ok or outcome.error is None else self._shown(outcome.error),
                outcome.result,
                record.started_at,
                at,
                at - record.started_at if record.started_at else None,
                not_before,
                self.job_id,
                record.idx,
            ),
        )
        return status
