"""A job's progress counts, rate and ETA as rows: one update, applied in a transaction."""

from __future__ import annotations

import sqlite3
from typing import Any

from jobcore.base import clock
from jobcore.base.errors import JobcoreError
from jobcore.base.rate import eta_seconds, rate_from_samples

SAMPLES_KEPT = 120
SAMPLE_SPACING_S = 0.5


def apply_progress(
    conn: sqlite3.Connection,
    job_id: str,
    *,
    done: int | None = None,
    advance: int = 0,
    total: int | None = None,
    item: str | None = None,
    errors: int = 0,
    errors_total: int | None = None,
) -> None:
    """Apply one progress update inside the caller's transaction; refresh rate and ETA.

    ``done`` sets the count, ``advance`` adds to it; ``errors`` adds failures, ``errors_total``
    sets them. A total smaller than done grows to done (totals may grow, and done never
    exceeds a known total). A (time, done) sample is kept at most every SAMPLE_SPACING_S,
    timed on the boot clock (a rate over a step of the wall clock would be nonsense).
    """
    at = clock.now()
    now = at.t
    row = conn.execute(
        "SELECT done, total, errors, rate FROM jobs WHERE id = ?", (job_id,)
    ).fetchone()
    if row is None:
        raise JobcoreError(f"no job with id {job_id!r}")
    new_done = max(0, (row["done"] if done is None else done) + advance)
    new_total = row["total"] if total is None else max(0, total)
    if new_total is not None and new_done > new_total:
        new_total = new_done
    last = conn.execute(
        "SELECT t FROM samples WHERE job_id = ? AND boot = ? ORDER BY t DESC LIMIT 1",
        (job_id, at.boot),
    ).fetchone()
    rate = row["rate"]
    if last is None or now - last[0] >= SAMPLE_SPACING_S:
        # The rate is measured when a sample is taken; in between (a fast batch records many
        # items per sample) the last rate stands and only the counts and the ETA move.
        recent = conn.execute(
            "SELECT t, done FROM samples WHERE job_id = ? AND boot = ? AND t < ?"
            " ORDER BY t DESC LIMIT 30",
            (job_id, at.boot, now),
        ).fetchall()
        points = [(r[0], r[1]) for r in reversed(recent)] + [(now, new_done)]
        rate = rate_from_samples(points, now)
        if last is None:  # samples of an earlier boot measure nothing now
            conn.execute("DELETE FROM samples WHERE job_id = ? AND boot != ?", (job_id, at.boot))
        conn.execute(
            "INSERT INTO samples (job_id, t, done, boot) VALUES (?, ?, ?, ?)",
            (job_id, now, new_done, at.boot),
        )
        conn.execute(
            "DELETE FROM samples WHERE job_id = ? AND t < (SELECT t FROM samples"
            " WHERE job_id = ? ORDER BY t DESC LIMIT 1 OFFSET ?)",
            (job_id, job_id, SAMPLES_KEPT - 1),
        )
    fields: dict[str, Any] = {
        "done": new_done,
        "total": new_total,
        "errors": (row["errors"] + errors) if errors_total is None else errors_total,
        "rate": rate,
        "eta_s": eta_seconds(new_done, new_total, rate),
        "progress_at": clock.wall(),
    }
    if item is not None:  # shown only: bytes that are not UTF-8 (an item's) become U+FFFD
        fields["current_item"] = (
            item[:500].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        )
    cols = ", ".join(f"{key} = ?" for key in fields)
    conn.execute(f"UPDATE jobs SET {cols} WHERE id = ?", [*fields.values(), job_id])
