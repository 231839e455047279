"""Items of a batch and their checkpoints: the unit people care about.

Every state change of an item is one write transaction that also refreshes the job's
counts, so the job's done/total/errors always follow from its items. An item is recorded
done only after it finished, in the same transaction that records its result: after a stop
or a crash, the only items that run again are those that were in flight.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jobcore.models import iso
from jobcore.store import Store, apply_progress


class ItemStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class ItemRecord:
    """One item of a batch as stored."""

    job_id: str
    idx: int
    item: str
    status: ItemStatus
    attempts: int
    exit_code: int | None
    error: str | None
    started_at: float | None
    finished_at: float | None
    duration: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ItemRecord:
        return cls(
            job_id=row["job_id"],
            idx=row["idx"],
            item=row["item"],
            status=ItemStatus(row["status"]),
            attempts=row["attempts"],
            exit_code=row["exit_code"],
            error=row["error"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            duration=row["duration"],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "index": self.idx,
            "item": self.item,
            "status": self.status.value,
            "attempts": self.attempts,
            "exit_code": self.exit_code,
            "error": self.error,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration_s": self.duration,
        }


def read_items(lines: Iterable[str]) -> list[str]:
    """One item per non-empty line; only the line ending is removed (spaces are kept)."""
    items = []
    for line in lines:
        text = line.rstrip("\r\n")
        if text.strip():
            items.append(text)
    return items


def backoff_delay(base: float, attempts: int) -> float:
    """Exponential backoff with jitter: base·2^(attempts-1), scaled by a random 0.5–1.5."""
    return base * (2 ** max(0, attempts - 1)) * (0.5 + random.random())


def counts(conn: sqlite3.Connection, job_id: str) -> dict[ItemStatus, int]:
    found = {
        ItemStatus(s): n
        for s, n in conn.execute(
            "SELECT status, COUNT(*) FROM items WHERE job_id = ? GROUP BY status", (job_id,)
        )
    }
    return {status: found.get(status, 0) for status in ItemStatus}


def _recount_job(conn: sqlite3.Connection, job_id: str) -> None:
    """The job's done/total/errors counted afresh from its items (plus rate and ETA).

    Used when a worker starts and on retry, so the counts heal whatever happened before.
    """
    n = counts(conn, job_id)
    apply_progress(
        conn,
        job_id,
        done=n[ItemStatus.DONE],
        total=sum(n.values()),
        errors_total=n[ItemStatus.FAILED],
    )


class ItemBook:
    """The checkpoint operations a batch worker (and retry/failures commands) perform."""

    def __init__(self, store: Store, job_id: str) -> None:
        self.store = store
        self.job_id = job_id

    def reset_in_flight(self) -> int:
        """Items left ``running`` by a dead or stopped owner go back to pending.

        Their interrupted attempt does not count against the retry budget.
        """
        with self.store.write() as conn:
            changed = conn.execute(
                "UPDATE items SET status = 'pending', attempts = MAX(0, attempts - 1),"
                " started_at = NULL WHERE job_id = ? AND status = 'running'",
                (self.job_id,),
            ).rowcount
            _recount_job(conn, self.job_id)
        return changed

    def claim_next(self, now: float | None = None) -> ItemRecord | None:
        """Mark the next ready pending item running (attempt + 1) and return it."""
        now = time.time() if now is None else now
        with self.store.write() as conn:
            rows = conn.execute(
                "UPDATE items SET status = 'running', attempts = attempts + 1, started_at = ?,"
                " finished_at = NULL, duration = NULL WHERE job_id = ? AND idx = ("
                " SELECT idx FROM items WHERE job_id = ? AND status = 'pending'"
                " AND (not_before IS NULL OR not_before <= ?) ORDER BY idx LIMIT 1) RETURNING *",
                (now, self.job_id, self.job_id, now),
            ).fetchall()
            if not rows:
                return None
            record = ItemRecord.from_row(rows[0])
            conn.execute(
                "UPDATE jobs SET current_item = ? WHERE id = ?", (record.item[:500], self.job_id)
            )
        return record

    def next_ready_at(self) -> float | None:
        """When the earliest pending item may start (None: nothing pending)."""
        row = self.store.conn.execute(
            "SELECT MIN(COALESCE(not_before, 0)) FROM items"
            " WHERE job_id = ? AND status = 'pending'",
            (self.job_id,),
        ).fetchone()
        return row[0]

    def finish(
        self,
        record: ItemRecord,
        *,
        ok: bool,
        exit_code: int | None = None,
        error: str | None = None,
        result: str | None = None,
        retries: int = 0,
        backoff: float = 0.0,
    ) -> ItemStatus:
        """Record how one attempt ended: done, failed for good, or pending again for a retry."""
        now = time.time()
        duration = now - record.started_at if record.started_at else None
        if ok:
            status, not_before = ItemStatus.DONE, None
        elif record.attempts <= retries:
            status, not_before = ItemStatus.PENDING, now + backoff_delay(backoff, record.attempts)
        else:
            status, not_before = ItemStatus.FAILED, None
        with self.store.write() as conn:
            conn.execute(
                "UPDATE items SET status = ?, exit_code = ?, error = ?, result = ?,"
                " finished_at = ?, duration = ?, not_before = ?, forgotten = 0"
                " WHERE job_id = ? AND idx = ?",
                (
                    status.value,
                    exit_code,
                    None if ok else error,
                    result,
                    now,
                    duration,
                    not_before,
                    self.job_id,
                    record.idx,
                ),
            )
            # Counted incrementally: a recount per item would make a batch quadratic.
            done, failed = status is ItemStatus.DONE, status is ItemStatus.FAILED
            apply_progress(conn, self.job_id, advance=int(done), errors=int(failed), now=now)
        return status

    def requeue(self, record: ItemRecord) -> None:
        """An attempt was interrupted (stop, pause): pending again, attempt not counted."""
        with self.store.write() as conn:
            conn.execute(
                "UPDATE items SET status = 'pending', attempts = MAX(0, attempts - 1),"
                " started_at = NULL WHERE job_id = ? AND idx = ? AND status = 'running'",
                (self.job_id, record.idx),
            )

    def counts(self) -> dict[ItemStatus, int]:
        return counts(self.store.conn, self.job_id)

    def retry_failed(self, names: Sequence[str] | None = None) -> int:
        """Failed items (all, or those named) back to pending with a fresh retry budget."""
        sql = (
            "UPDATE items SET status = 'pending', attempts = 0, error = NULL, exit_code = NULL,"
            " not_before = NULL, forgotten = 0 WHERE job_id = ? AND status = 'failed'"
        )
        args: list[Any] = [self.job_id]
        if names:
            sql += f" AND item IN ({','.join('?' * len(names))})"
            args.extend(names)
        with self.store.write() as conn:
            changed = conn.execute(sql, args).rowcount
            _recount_job(conn, self.job_id)
        return changed


def failures(store: Store, job_id: str | None = None, limit: int = 1000) -> list[ItemRecord]:
    """Failed items across jobs (or of one), newest first; forgotten ones left out."""
    sql = "SELECT * FROM items WHERE status = 'failed' AND forgotten = 0"
    args: list[Any] = []
    if job_id is not None:
        sql += " AND job_id = ?"
        args.append(job_id)
    sql += " ORDER BY finished_at DESC LIMIT ?"
    args.append(limit)
    return [ItemRecord.from_row(r) for r in store.conn.execute(sql, args)]


def forget_failures(store: Store, job_id: str | None = None) -> int:
    """Hide failed items from the failure log (one job's, or all); their records stay."""
    sql = "UPDATE items SET forgotten = 1 WHERE status = 'failed' AND forgotten = 0"
    args: list[Any] = []
    if job_id is not None:
        sql += " AND job_id = ?"
        args.append(job_id)
    with store.write() as conn:
        return conn.execute(sql, args).rowcount
