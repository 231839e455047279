"""Items of a batch as stored, and what commands do to them: the unit people care about.

Every change here is one write transaction that also moves the job's counts, so its
done/total/errors always follow from its items. The running worker's own checkpoints are
the ledger's (``jobcore.worker.ledger``).
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

from jobcore.base.errors import JobcoreError, Pause
from jobcore.state import transitions
from jobcore.state.item_text import from_db, to_db
from jobcore.state.models import Job, iso
from jobcore.state.progress_rows import apply_progress
from jobcore.state.store import Store

if TYPE_CHECKING:
    from jobcore.base.redact import Redactor


class ItemStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ItemRecord(NamedTuple):
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
    progress_done: int | None = None
    """The item's own progress, reported from inside it (None: it reported none)."""
    progress_total: int | None = None
    progress_note: str | None = None
    """What it is doing within itself (a nested bar, ``progress(desc=...)``)."""

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ItemRecord:
        return cls(
            job_id=row["job_id"],
            idx=row["idx"],
            item=from_db(row["item"]),
            status=ItemStatus(row["status"]),
            attempts=row["attempts"],
            exit_code=row["exit_code"],
            error=row["error"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            duration=row["duration"],
            progress_done=row["progress_done"],
            progress_total=row["progress_total"],
            progress_note=row["progress_note"],
        )

    def shown(self, redact: Redactor) -> ItemRecord:
        """The record as shown to people: the item (a credentialed URL, say) and its error
        masked by the job's Redactor. The clear item stays in the database, to be run."""
        error = None if self.error is None else redact.text(self.error)
        note = None if self.progress_note is None else redact.text(self.progress_note)
        return self._replace(item=redact.text(self.item), error=error, progress_note=note)

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "index": self.idx,
            "item": shown(self.item),
            "status": self.status.value,
            "attempts": self.attempts,
            "exit_code": self.exit_code,
            "error": self.error,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration_s": self.duration,
            "progress": None
            if self.progress_done is None and self.progress_note is None
            else {
                "done": self.progress_done,
                "total": self.progress_total,
                "note": self.progress_note,
            },
        }


class Outcome(NamedTuple):
    """How one attempt of an item ended."""

    ok: bool
    exit_code: int | None = None
    error: str | None = None
    result: str | None = None
    pause: Pause | None = None


BOM = b"\xef\xbb\xbf"


def read_items(lines: Iterable[bytes], source: str) -> list[str]:
    """One item per non-empty line; only the line ending is removed (spaces are kept).

    Lines are bytes: one that is not UTF-8 is kept byte for byte (decoded with
    surrogateescape, so the command's argv gets exactly those bytes back). A UTF-8
    byte-order mark at the top is not part of the first item. A NUL byte cannot be in an
    argument, so a line with one is refused, naming it, before any job exists.
    """
    items = []
    for number, line in enumerate(lines, 1):
        raw = line.rstrip(b"\r\n")
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        if b"\0" in raw:
            raise JobcoreError(f"--each {source}: line {number} holds a NUL byte")
        text = raw.decode("utf-8", "surrogateescape")
        if text.strip():
            items.append(text)
    return items


def shown(item: str) -> str:
    """An item for people and JSON: bytes that are not UTF-8 shown as U+FFFD."""
    return item.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


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


def recount_job(conn: sqlite3.Connection, job_id: str) -> None:
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
            changed = transitions.interrupt_items(conn, self.job_id)
            recount_job(conn, self.job_id)
        return changed

    def requeue(self, record: ItemRecord) -> None:
        """An attempt was interrupted (stop, pause): pending again, attempt not counted."""
        with self.store.write() as conn:
            transitions.interrupt_items(conn, self.job_id, record.idx)

    def counts(self) -> dict[ItemStatus, int]:
        return counts(self.store.conn, self.job_id)

    def retry_failed(self, names: Sequence[str] | None = None) -> int:
        """Failed items (all, or those named) back to pending with a fresh retry budget."""
        named = [to_db(name) for name in names] if names else None
        with self.store.write() as conn:
            changed = transitions.reset_items(conn, self.job_id, only_failed=True, items=named)
            recount_job(conn, self.job_id)
        return changed


def item_indexes(store: Store, job_id: str, item: str) -> list[int]:
    """Where ``item`` stands in a batch's list (an item may be listed more than once)."""
    rows = store.conn.execute(
        "SELECT idx FROM items WHERE job_id = ? AND item = ? ORDER BY idx", (job_id, to_db(item))
    )
    return [row[0] for row in rows]


def running(store: Store, job_id: str) -> list[ItemRecord]:
    """A batch's items running now, in order (each with its own progress, if it reports)."""
    rows = store.conn.execute(
        "SELECT * FROM items WHERE job_id = ? AND status = 'running' ORDER BY idx", (job_id,)
    )
    return [ItemRecord.from_row(r) for r in rows]


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


def failed_jobs(store: Store, job_id: str | None = None, limit: int = 1000) -> list[Job]:
    """Failed one-command jobs (all, or that one), newest first; forgotten ones left out.

    The failure log's other half: a batch's failures are its items.
    """
    sql = (
        "SELECT * FROM jobs WHERE status = 'failed' AND forgotten = 0"
        " AND json_extract(spec, '$.each') IS NULL"
    )
    args: list[Any] = []
    if job_id is not None:
        sql += " AND id = ?"
        args.append(job_id)
    sql += " ORDER BY finished_at DESC LIMIT ?"
    args.append(limit)
    return [Job.from_row(r) for r in store.conn.execute(sql, args)]


def failed_job_json(job: Job) -> dict[str, Any]:
    """A failed one-command job in the shape of a failed item (no item, its command)."""
    return {
        "job_id": job.id,
        "index": None,
        "item": None,
        "command": job.shown_command,
        "status": job.status.value,
        "attempts": None,
        "exit_code": job.exit_code,
        "error": job.reason,
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "duration_s": job.elapsed(job.finished_at or 0.0),
        "progress": None,
    }


def forget_failures(store: Store, job_id: str | None = None) -> int:
    """Hide failed items and failed jobs from the failure log (one job's, or all); their
    records stay."""
    where = " AND job_id = ?" if job_id is not None else ""
    args: list[Any] = [] if job_id is None else [job_id]
    with store.write() as conn:
        items = conn.execute(
            "UPDATE items SET forgotten = 1 WHERE status = 'failed' AND forgotten = 0" + where,
            args,
        ).rowcount
        jobs = conn.execute(
            "UPDATE jobs SET forgotten = 1 WHERE status = 'failed' AND forgotten = 0"
            " AND json_extract(spec, '$.each') IS NULL" + where.replace("job_id", "id"),
            args,
        ).rowcount
    return items + jobs
