"""The dashboard's second-edition figures: CPU with the detail or log open, 100 jobs, a 1 GB log.

    python -m benchmarks dashboard

The app runs headless (``App.run_test``) in this process; progress is committed by another
process, as jobs' workers would, 4 times a second per job. CPU is this process's (the app,
its reader thread and its poll), over a window once the load runs. Each figure is printed
beside its baseline from the same run: the list alone for the detail and the log view, 10
jobs for 100, a 1 KB log for the 1 GB one.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_tui import _running_jobs, _writer
from benchmarks.common import median, open_store, row, temp_home
from jobcore.state.models import JobStatus
from jobcore.state.paths import resolve_home
from jobtui.app import JobApp
from jobtui.widgets.log_screen import LogScreen
from jobtui.widgets.log_view import LogLines
from tests.rows import set_row

RATE_HZ = 4.0
WINDOW_S = 6.0
SIZE = (120, 40)
GIB = 1024**3
OPENS = 5


async def _until(pilot: Any, predicate: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the dashboard did not get there")
        await pilot.pause(0.02)


async def _cpu(jobs: int, view: str) -> float:
    """App CPU % while ``jobs`` jobs report 4x/s, with ``view`` open: list, detail or log."""
    with temp_home("jcbench-dash-") as home:
        ids = _running_jobs(home, jobs)
        state = resolve_home(home)
        state.make_job_dir(ids[0])
        state.log_path(ids[0]).write_text("".join(f"line {i}\n" for i in range(5000)))
        app = JobApp(state, blink=False)
        async with app.run_test(size=SIZE) as pilot:
            model = app.model
            await _until(pilot, lambda: len(model.snapshot.jobs.get(JobStatus.RUNNING, [])) == jobs)
            if view == "detail":
                await pilot.press("enter")
                await _until(pilot, lambda: app.dashboard.detail.display)
            elif view == "log":
                await pilot.press("L")
                await _until(pilot, lambda: isinstance(app.screen, LogScreen))
            proc = _writer(home, str(RATE_HZ), *ids, str(WINDOW_S + 2))
            await pilot.pause(1.0)
            wall, cpu = time.monotonic(), time.process_time()
            await pilot.pause(WINDOW_S)
            used = (time.process_time() - cpu) / (time.monotonic() - wall) * 100
            await asyncio.to_thread(proc.wait)
        return used


async def _idle() -> float:
    """App CPU % with jobs in history and nothing running (nothing to draw)."""
    with temp_home("jcbench-dash-") as home:
        ids = _running_jobs(home, 10)
        with open_store(home) as store:
            for job_id in ids:
                set_row(store, job_id, status=JobStatus.COMPLETED.value, finished_at=time.time())
        app = JobApp(resolve_home(home), blink=False)
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.model.loaded)
            await pilot.pause(1.0)
            wall, cpu = time.monotonic(), time.process_time()
            await pilot.pause(WINDOW_S)
            return (time.process_time() - cpu) / (time.monotonic() - wall) * 100


def _write_log(path: Path, size: int) -> None:
    """``size`` bytes of numbered lines of output (the first 1 MB repeated: it is the reading
    that is measured, not the writing)."""
    line = b"frame 000123 rendered in 1.82 s, 128/128 samples, 812.4M memory in use\n"
    block = line * (1024 * 1024 // len(line))
    with path.open("wb") as out:
        written = 0
        while written + len(block) <= size:
            out.write(block)
            written += len(block)
        out.write(line * ((size - written) // len(line)))
    os.sync()  # its write-back must not run during the measurement


def _last_line_drawn(lines: LogLines) -> bool:
    """The view has the file's last line on screen (it opens at the end)."""
    count = len(lines.log_file)
    y = min(count, lines.size.height) - 1
    return count > 0 and y >= 0 and bool(lines.render_line(y).text.strip())


async def _first_paint(size: int) -> float:
    """Median seconds from opening the log view to its last lines drawn."""
    with temp_home("jcbench-dash-") as home:
        (job_id,) = _running_jobs(home, 1)
        state = resolve_home(home)
        state.make_job_dir(job_id)
        await asyncio.to_thread(_write_log, state.log_path(job_id), size)
        app = JobApp(state, blink=False, live=False)
        times = []
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.model.selected_id == job_id)
            for _ in range(OPENS):
                started = time.perf_counter()
                await app.push_screen(LogScreen(state.log_path(job_id), job_id))
                lines = app.screen.query_one(LogLines)
                while not _last_line_drawn(lines):
                    await pilot.pause(0)
                await pilot.pause(0)  # the frame with them is written
                times.append(time.perf_counter() - started)
                app.pop_screen()
                await pilot.pause(0.1)
        return median(times)


def run() -> list[dict[str, Any]]:
    listed = asyncio.run(_cpu(10, "list"))
    detail = asyncio.run(_cpu(10, "detail"))
    log = asyncio.run(_cpu(10, "log"))
    hundred = asyncio.run(_cpu(100, "list"))
    idle = asyncio.run(_idle())
    small, big = asyncio.run(_first_paint(1024)), asyncio.run(_first_paint(GIB))
    return [
        row(
            "dashboard: app CPU, 10 jobs reporting 4x/s, detail open",
            detail,
            "%",
            peer_name="list only",
            peer=listed,
            target="<= 5",
        ),
        row(
            "dashboard: app CPU, 10 jobs reporting 4x/s, full-screen log open",
            log,
            "%",
            peer_name="list only",
            peer=listed,
            target="<= 5",
        ),
        row(
            "dashboard: app CPU, 100 jobs reporting 4x/s",
            hundred,
            "%",
            peer_name="10 jobs",
            peer=listed,
            target="<= 10",
        ),
        row("dashboard: app CPU, nothing running", idle, "%", target="<= 0.5"),
        row(
            "dashboard: open the log of a 1 GB job, to first paint",
            big * 1000,
            "ms",
            peer_name="a 1 KB log",
            peer=small * 1000,
            target="<= 200",
        ),
    ]


if __name__ == "__main__":
    for result in run():
        print(result)
    sys.exit(0)
