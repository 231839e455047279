"""Helpers for the dashboard's tests: fixed rows, and waiting on the app without long sleeps."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from jobcore.state.models import JobStatus
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from jobtui.app import JobApp
from jobtui.columns import spans
from jobtui.widgets.job_list import HEADER_LINES, JobList

FIXED_NOW = 1_750_000_000.0
"""The snapshot tests' clock: 2025-06-15 15:06:40 UTC."""


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Times in the detail pane are local: pin the zone so snapshots match anywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def insert_job(
    store: Store,
    job_id: str,
    name: str | None,
    status: JobStatus,
    *,
    command: tuple[str, ...] = ("sh", "-c", "work"),
    seq: int | None = None,
    **fields: Any,
) -> None:
    """A job row with chosen id and times (create_job picks random ids and the real clock)."""
    row: dict[str, Any] = {
        "id": job_id,
        "name": name,
        "command": json.dumps(list(command)),
        "cwd": "/srv/work",
        "env": "{}",
        "status": status.value,
        "created_at": FIXED_NOW - 600,
        "queued_at": FIXED_NOW - 600,
        **fields,
    }
    if seq is not None:
        row["seq"] = seq
    cols = ", ".join(row)
    marks = ", ".join("?" * len(row))
    with store.write() as conn:
        conn.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", list(row.values()))


def fixed_jobs(state: StateDir, store: Store) -> None:
    """A dashboard's worth of jobs in every status, with a log and rate samples."""
    start = FIXED_NOW - 300
    insert_job(
        store,
        "k3x9q",
        "render-frames",
        JobStatus.RUNNING,
        started_at=start,
        total=500,
        done=212,
        rate=3.4,
        eta_s=85,
        current_item="frame-0212.exr",
        progress_at=FIXED_NOW,
        command=("blender", "-b", "scene.blend", "-a"),
    )
    insert_job(
        store,
        "m7tpa",
        None,
        JobStatus.RUNNING,
        started_at=FIXED_NOW - 45,
        done=1840,
        rate=41.0,
        current_item="row 1840",
        command=("python", "import_rows.py", "--all"),
    )
    insert_job(store, "q2wer", "nightly-report", JobStatus.QUEUED, command=("make", "report"))
    insert_job(
        store,
        "p8dfh",
        "export-tables",
        JobStatus.PAUSED,
        started_at=start,
        finished_at=start + 90,
        total=1000,
        done=340,
        current_item="table-340",
        reason="stopped by user",
    )
    insert_job(
        store,
        "f4hhz",
        "upload-backup",
        JobStatus.FAILED,
        started_at=start,
        total=50,
        done=17,
        finished_at=start + 12,
        exit_code=3,
        reason="exited with code 3",
    )
    insert_job(
        store,
        "w9nnb",
        "fetch-mirrors",
        JobStatus.FAILED,
        started_at=start - 900,
        done=3,
        finished_at=start - 880,
        reason="worker died unexpectedly",
    )
    for index, job_id in enumerate(("c5aaa", "c5bbb", "c5ccc")):
        insert_job(
            store,
            job_id,
            f"checksum-{index}",
            JobStatus.COMPLETED,
            started_at=start - 3600,
            finished_at=start - 3500 + index,
            total=8,
            done=8,
            exit_code=0,
            current_item="h.iso",
        )
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO samples (job_id, t, done) VALUES ('k3x9q', ?, ?)",
            [(start + 10 * i, int(2.0 * 10 * i + (i % 5) * 6)) for i in range(30)],
        )
    state.make_job_dir("k3x9q")
    with open(state.log_path("k3x9q"), "w", encoding="utf-8") as log:
        for frame in range(190, 213):
            log.write(f"Fra:{frame} Mem:812.4M | Time:00:01.82 | Rendering 128/128 samples\n")


def snapshot_app(state: StateDir, **kw: Any) -> JobApp:
    """An app with a fixed clock and nothing live: the same pixels on every run."""
    return JobApp(state, clock=lambda: FIXED_NOW, live=False, blink=False, **kw)


async def wait_until(pilot: Pilot[Any], predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Let the app run until ``predicate()`` is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(0.05)


def cell(app: JobApp, job_id: str, column: str) -> str | None:
    """The text of one cell of a job's row as drawn, wherever the job is shown.

    Read from the rendered line, not the model: a stale render cache once showed old
    progress while the data underneath was right. ``reason`` (or ``note``) is the stretch a
    row that is not running writes what it waits for or why it stopped.
    """
    for panel in app.dashboard.query(JobList):
        if job_id in panel.jobs and app.dashboard.layout_ is not None:
            y = panel.get_row_index(job_id) + HEADER_LINES - round(panel.scroll_y)
            line = panel.render_line(y).text
            running = panel.jobs[job_id].status is JobStatus.RUNNING
            where = spans(app.dashboard.layout_, running)
            key = "note" if column == "reason" else column
            if key not in where:
                return None
            x, width = where[key]
            return line[x : x + width].strip()
    return None


def panel_of(app: JobApp, job_id: str) -> JobStatus | None:
    """The status panel that shows the job, if any."""
    for panel in app.dashboard.query(JobList):
        if job_id in panel.jobs and panel.display:
            return panel.status
    return None


async def select(pilot: Pilot[Any], app: JobApp, job_id: str) -> None:
    """Put the cursor on a job (as arrow keys would) and wait until the keys act on it."""
    await wait_until(pilot, lambda: panel_of(app, job_id))
    table = next(t for t in app.dashboard.query(JobList) if job_id in t.jobs)
    table.focus()
    table.move_cursor(row=table.get_row_index(job_id))
    # The selection may already be this job (the first row is selected at start): wait for
    # the focus and the cursor too, so the next key goes to this table at this row.
    await wait_until(
        pilot,
        lambda: (
            app.focused is table and table.cursor_job_id == job_id and app.selected_id == job_id
        ),
    )


async def open_detail(pilot: Pilot[Any], app: JobApp, job_id: str) -> None:
    """Select the job and open its detail pane, as Enter on its row does."""
    await select(pilot, app, job_id)
    await pilot.press("enter")
