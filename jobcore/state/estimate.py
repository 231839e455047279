"""Estimates from history: how long a job named like earlier completed jobs should take.

Before a job has a rate of its own, the durations of the last completed jobs with the same
``--name`` give an expectation: per item when they had totals (so a bigger batch is expected
to take longer), else per run. Per item is counted per slot (an item's time times the
run's ``-j``), so a batch run with ``-j 8`` after runs with ``-j 1`` is expected to take an
eighth as long. The median is used so one odd run does not skew it.
"""

from __future__ import annotations

import json
from statistics import median
from typing import NamedTuple

from jobcore.state.models import Job, JobStatus
from jobcore.state.store import Store

HISTORY = 10


class Estimate(NamedTuple):
    """What earlier runs of a name took."""

    duration_s: float
    per_item_s: float | None
    """Seconds an item takes one slot: a run of n items with -j p lasts n·per_item_s/p."""
    runs: int


def from_history(store: Store, name: str | None, exclude: str | None = None) -> Estimate | None:
    """The estimate for jobs called ``name`` from its last completed runs, or None."""
    if not name:
        return None
    rows = store.conn.execute(
        "SELECT id, run_s, started_at, finished_at, total, spec FROM jobs"
        " WHERE name = ? AND status = ? AND started_at IS NOT NULL"
        " AND finished_at IS NOT NULL ORDER BY seq DESC LIMIT ?",
        (name, JobStatus.COMPLETED.value, HISTORY + 1),
    ).fetchall()
    runs = [r for r in rows if r["id"] != exclude][:HISTORY]
    if not runs:
        return None
    durations = [max(0.0, r["run_s"] or r["finished_at"] - r["started_at"]) for r in runs]
    per_item = [
        d * _parallel(json.loads(r["spec"])) / r["total"]
        for d, r in zip(durations, runs, strict=True)
        if r["total"]
    ]
    return Estimate(median(durations), median(per_item) if per_item else None, len(runs))


def _parallel(spec: dict[str, object]) -> int:
    """How many items a run kept going at once (1 for a single command)."""
    value = spec.get("parallel", 1)
    return max(1, value) if isinstance(value, int) else 1


def expected_remaining(job: Job, estimate: Estimate, now: float) -> float:
    """Seconds left for a running job according to the estimate."""
    if estimate.per_item_s is not None and job.total:
        return max(0.0, estimate.per_item_s * (job.total - job.done) / _parallel(job.spec))
    return max(0.0, estimate.duration_s - (job.elapsed(now) or 0.0))


def expected_total(estimate: Estimate, total: int | None, parallel: int = 1) -> float:
    """The whole expected duration of a run with ``total`` items (or unknown) and ``-j``."""
    if estimate.per_item_s is not None and total:
        return estimate.per_item_s * total / max(1, parallel)
    return estimate.duration_s
