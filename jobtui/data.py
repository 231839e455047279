"""Async reads of the state database for the dashboard, through one long-lived connection.

One connection for the app's lifetime, one ``execute_fetchall`` per query, and ``PRAGMA
data_version`` first, so an event that changed nothing costs one call
(docs/decisions/0020-data-version-polling.md). Finished jobs are read a page at a time (the
newest ``page_size`` per status), and only when their set changed: their rows never do.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

from jobcore.state.database import BUSY_TIMEOUT_MS
from jobcore.state.item_text import from_db
from jobcore.state.items import shown
from jobcore.state.models import Job, JobStatus
from jobcore.view import fmt

PAGE_SIZE = 200
"""Rows per panel: 10,000 finished jobs must not mean 10,000 table rows."""

FINAL_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class Snapshot:
    """What the dashboard shows: a page of jobs per status (newest first) and true counts."""

    jobs: dict[JobStatus, list[Job]] = field(default_factory=dict)
    """At most one page of jobs per status, newest first."""
    counts: dict[JobStatus, int] = field(default_factory=dict)
    """How many jobs each status really has (the panel titles)."""
    paused_groups: frozenset[str] = frozenset()
    """Groups paused with ``jobcore group pause`` (none of their jobs start)."""

    def find(self, job_id: str) -> Job | None:
        for jobs in self.jobs.values():
            for job in jobs:
                if job.id == job_id:
                    return job
        return None


def _filter(text: str, group: str | None) -> tuple[str, list[Any]]:
    """A WHERE clause: ``text`` in the id, name, command or current item; only ``group``.

    The command as shown (masked): typing part of a secret must not find its job.
    """
    clauses, args = ["1"], []
    if text:
        command = "coalesce(json_extract(masked, '$.command'), command)"
        haystack = f"lower(id || ' ' || coalesce(name, '') || ' ' || {command} || ' ' ||"
        haystack += " coalesce(current_item, ''))"
        clauses.append(f"instr({haystack}, ?) > 0")
        args.append(text.lower())
    if group is not None:
        clauses.append("grp = ?")
        args.append(group)
    return " AND ".join(clauses), args


class JobReader:
    """Reads snapshots of the jobs table without blocking the UI thread."""

    def __init__(self, db_path: Path, page_size: int = PAGE_SIZE) -> None:
        self.db_path = db_path
        """The state database (created by jobcore before the app starts)."""
        self.page_size = page_size
        """Newest jobs shown per status."""
        self._conn: aiosqlite.Connection | None = None
        self._finished: dict[tuple[JobStatus, str], tuple[tuple[int, int], list[Job]]] = {}

    async def open(self) -> None:
        self._conn = await aiosqlite.connect(self.db_path, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        await self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        await self._conn.execute("PRAGMA query_only=ON")

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("JobReader.open() was not awaited")
        return self._conn

    async def data_version(self) -> int:
        """Changes whenever another connection committed: the cheap "anything new?" probe."""
        rows = await self.conn.execute_fetchall("PRAGMA data_version")
        return int(next(iter(rows))[0])

    async def read(self, text: str = "", group: str | None = None) -> Snapshot:
        """One consistent snapshot (a single read transaction) of every panel."""
        where, args = _filter(text, group)
        text = f"{text}\0{group}"  # the cache key of finished pages
        await self.conn.execute("BEGIN")  # outside the try: a failed BEGIN has nothing to end
        try:
            membership: dict[JobStatus, tuple[int, int]] = {}
            sql = f"SELECT status, COUNT(*), SUM(seq) FROM jobs WHERE {where} GROUP BY status"
            for status, count, seq_sum in await self.conn.execute_fetchall(sql, args):
                membership[JobStatus(status)] = (count, seq_sum)
            jobs: dict[JobStatus, list[Job]] = {}
            for status in JobStatus:
                members = membership.get(status, (0, 0))
                if members[0] == 0:
                    jobs[status] = []
                elif status in FINAL_STATUSES:
                    jobs[status] = await self._finished_page(status, members, where, args, text)
                else:
                    jobs[status] = await self._page(status, where, args)
            sql = "SELECT name FROM groups WHERE paused"
            paused = frozenset(row[0] for row in await self.conn.execute_fetchall(sql))
        finally:
            await self.conn.execute("COMMIT")
        counts = {status: membership.get(status, (0, 0))[0] for status in JobStatus}
        return Snapshot(jobs, counts, paused)

    async def _page(self, status: JobStatus, where: str, args: list[Any]) -> list[Job]:
        sql = f"SELECT * FROM jobs WHERE status = ? AND {where} ORDER BY seq DESC LIMIT ?"
        rows = await self.conn.execute_fetchall(sql, [status.value, *args, self.page_size])
        return [Job.from_row(row) for row in rows]

    async def _finished_page(
        self,
        status: JobStatus,
        members: tuple[int, int],
        where: str,
        args: list[Any],
        text: str,
    ) -> list[Job]:
        """Finished rows are final: re-read them only when jobs joined or left the status."""
        cached = self._finished.get((status, text))
        if cached is not None and cached[0] == members:
            return cached[1]
        jobs = await self._page(status, where, args)
        self._finished = {
            key: value for key, value in self._finished.items() if key[0] is not status
        }
        self._finished[(status, text)] = (members, jobs)
        return jobs

    async def groups(self) -> list[str]:
        """The queue groups, by name."""
        rows = await self.conn.execute_fetchall("SELECT name FROM groups ORDER BY name")
        return [row[0] for row in rows]

    async def failed_items(self, job_id: str, limit: int = 20) -> list[tuple[str, int, str]]:
        """A batch's failed items, newest first: (item, attempts, error)."""
        sql = (
            "SELECT item, attempts, coalesce(error, '') FROM items WHERE job_id = ?"
            " AND status = 'failed' ORDER BY finished_at DESC LIMIT ?"
        )
        rows = await self.conn.execute_fetchall(sql, (job_id, limit))
        return [(shown(from_db(row[0])), row[1], row[2]) for row in rows]

    async def running_items(self, job_id: str, limit: int = 20) -> list[tuple[str, str]]:
        """A batch's running items with their own progress: (item, ``45/100 (45%)  note``)."""
        sql = (
            "SELECT item, progress_done, progress_total, progress_note FROM items"
            " WHERE job_id = ? AND status = 'running' ORDER BY idx LIMIT ?"
        )
        rows = await self.conn.execute_fetchall(sql, (job_id, limit))
        return [
            (
                shown(from_db(row[0])),
                "  ".join(
                    part
                    for part in (
                        "" if row[1] is None else fmt.progress(row[1], row[2]),
                        row[3] or "",
                    )
                    if part
                ),
            )
            for row in rows
        ]

    async def log_items(self, job_id: str, limit: int = 50) -> list[tuple[str, list[int]]]:
        """A batch's running then failed items, each with where it stands in the list (an
        item listed twice stands twice): what the full-screen log filters by."""
        sql = (
            "SELECT item, idx FROM items WHERE job_id = ? AND status IN ('running', 'failed')"
            " ORDER BY status = 'failed', idx LIMIT ?"
        )
        found: dict[str, list[int]] = {}
        for row in await self.conn.execute_fetchall(sql, (job_id, limit)):
            found.setdefault(from_db(row[0]), []).append(row[1])
        return list(found.items())

    async def samples(self, job_id: str) -> list[tuple[float, int]]:
        """A job's recent (time, done) samples, oldest first (the rate sparkline)."""
        sql = "SELECT t, done FROM samples WHERE job_id = ? ORDER BY t"
        rows = await self.conn.execute_fetchall(sql, (job_id,))
        return [(row[0], row[1]) for row in rows]
