"""The dashboard's figures: update latency, CPU under load and at rest, memory with history.

    python -m benchmarks.bench_tui

The app runs headless (``App.run_test``) in this process; progress is committed by another
process, as a job's worker would. Latency is from the writer's commit returning to the app
having put the row on screen (``_apply`` done), with file watching and with the polling
fallback. Memory is measured in a fresh subprocess per case so runs do not share a heap.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks.common import env_for, fill_history, median, open_store, p95, row, temp_home
from jobcore.procs.identity import self_identity
from jobcore.state.models import JobStatus
from jobcore.state.paths import resolve_home
from jobtui.app import JobApp
from jobtui.data import Snapshot
from tests.rows import set_row

LATENCY_COMMITS = 60
LOAD_JOBS = 10
LOAD_RATE_HZ = 4.0
LOAD_SECONDS = 5.0
IDLE_SECONDS = 5.0
HISTORY = 10_000
SIZE = (120, 40)

WRITER = """
import random, sys, time
from jobcore.state.paths import resolve_home
from jobcore.state.store import Store
store = Store(resolve_home(sys.argv[1]))
mode, ids = sys.argv[2], sys.argv[3:]
if mode == "latency":
    for i in range(1, int(ids[1]) + 1):
        time.sleep(0.08 + random.random() * 0.06)
        store.record_progress(ids[0], done=i, total=1000)
        print(i, time.time(), flush=True)
else:
    period, end, i = 1 / float(mode), time.monotonic() + float(ids.pop()), 0
    while time.monotonic() < end:
        i += 1
        for job_id in ids:
            store.record_progress(job_id, done=i, total=100000, item=f"item {i}")
        time.sleep(period)
"""


class BrokenWatcher:
    """Forces the polling fallback, as when inotify cannot start."""

    async def changes(self):  # type: ignore[no-untyped-def]
        raise OSError(24, "Too many open files")
        yield

    def pace(self, live: bool) -> None:
        pass

    def stop(self) -> None:
        pass


class TimedApp(JobApp):
    """Notes when each new ``done`` value of one job reached the screen."""

    def __init__(self, *args: Any, watch_id: str, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.watch_id = watch_id
        self.seen: dict[int, float] = {}

    def _apply(self, snapshot: Snapshot) -> None:
        super()._apply(snapshot)
        job = snapshot.find(self.watch_id)
        if job is not None and job.done not in self.seen:
            self.seen[job.done] = time.time()


def _running_jobs(home: Path, count: int) -> list[str]:
    """Rows of running jobs whose "worker" is this process (alive, so liveness keeps them)."""
    ids = []
    with open_store(home) as store:
        for index in range(count):
            job = store.create_job(["work", str(index)], "/tmp", {}, f"job-{index}")
            set_row(store, job.id, worker=self_identity())
            set_row(store, job.id, status=JobStatus.RUNNING.value, started_at=time.time())
            ids.append(job.id)
    return ids


def _writer(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(home), *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env_for(home),
    )


def commit_latencies(out: str, seen: dict[int, float]) -> list[float]:
    """Commit → screen latency of each commit the writer printed (``COUNT TIME`` lines): a
    commit is on screen once any later count is (polling skips intermediate ones)."""
    commits = {int(i): float(t) for i, t in (line.split() for line in out.splitlines())}
    shown = sorted(seen.items())
    latencies = []
    for done, committed in commits.items():
        times = [t for value, t in shown if value >= done]
        if times:
            latencies.append(min(times) - committed)
    return latencies


async def _latency(watch: bool) -> list[float]:
    with temp_home("jcbench-tui-") as home:
        (job_id,) = _running_jobs(home, 1)
        kw: dict[str, Any] = {} if watch else {"watcher": BrokenWatcher()}
        app = TimedApp(resolve_home(home), watch_id=job_id, blink=False, **kw)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.5)
            proc = _writer(home, "latency", job_id, str(LATENCY_COMMITS))
            out, _ = await asyncio.to_thread(proc.communicate)
            deadline = time.monotonic() + 3
            while len(app.seen) <= LATENCY_COMMITS and time.monotonic() < deadline:
                await pilot.pause(0.05)
        return commit_latencies(out, app.seen)


async def _cpu() -> tuple[float, float, float]:
    """App CPU %: while 10 jobs report 4x/s; while they run without reporting (only their
    elapsed times tick); and once nothing runs at all."""
    with temp_home("jcbench-tui-") as home:
        ids = _running_jobs(home, LOAD_JOBS)
        app = JobApp(resolve_home(home), blink=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(1.0)
            proc = _writer(home, str(LOAD_RATE_HZ), *ids, str(LOAD_SECONDS))
            await pilot.pause(0.3)
            wall, cpu = time.monotonic(), time.process_time()
            await pilot.pause(LOAD_SECONDS - 0.6)
            busy = (time.process_time() - cpu) / (time.monotonic() - wall) * 100
            await asyncio.to_thread(proc.wait)
            await pilot.pause(0.5)
            wall, cpu = time.monotonic(), time.process_time()
            await pilot.pause(IDLE_SECONDS)
            idle = (time.process_time() - cpu) / (time.monotonic() - wall) * 100
            # Then the jobs end: with nothing running there is nothing to tick either.
            with open_store(home) as store:
                for job_id in ids:
                    set_row(
                        store, job_id, status=JobStatus.COMPLETED.value, finished_at=time.time()
                    )
            await pilot.pause(1.0)
            wall, cpu = time.monotonic(), time.process_time()
            await pilot.pause(IDLE_SECONDS)
            quiet = (time.process_time() - cpu) / (time.monotonic() - wall) * 100
        return busy, idle, quiet


def _rss_with_history(count: int) -> float:
    """Peak-free RSS (MB) of a fresh process showing ``count`` finished jobs."""
    with temp_home("jcbench-tui-") as home:
        fill_history(home, count)
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_tui", "--rss", str(home)],
            capture_output=True,
            text=True,
            check=True,
            env=env_for(home),
        ).stdout
        return float(out.strip().splitlines()[-1])


async def _measure_rss(home: str) -> float:
    app = JobApp(resolve_home(home), live=False, blink=False)
    async with app.run_test(size=SIZE) as pilot:
        while not app.snapshot.counts:
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        return psutil.Process().memory_info().rss / 2**20


def run() -> list[dict[str, Any]]:
    watched = asyncio.run(_latency(watch=True))
    polled = asyncio.run(_latency(watch=False))
    busy, idle, quiet = asyncio.run(_cpu())
    big, small = _rss_with_history(HISTORY), _rss_with_history(100)
    return [
        row(
            "tui: progress commit → row on screen, p50",
            median(watched) * 1000,
            "ms",
            peer_name="polling fallback",
            peer=median(polled) * 1000,
            target="<= 100",
        ),
        row(
            "tui: progress commit → row on screen, p95",
            p95(watched) * 1000,
            "ms",
            peer_name="polling fallback",
            peer=p95(polled) * 1000,
            target="<= 100",
        ),
        row(
            f"tui: app CPU, {LOAD_JOBS} jobs reporting {LOAD_RATE_HZ:.0f}x/s",
            busy,
            "%",
            target="<= 5",
        ),
        row(
            f"tui: app CPU, {LOAD_JOBS} jobs running, no progress (elapsed ticks)",
            idle,
            "%",
            target="-",
        ),
        row("tui: app CPU, nothing changing (no job running)", quiet, "%", target="<= 0.5"),
        row(
            f"tui: app RSS, {HISTORY:,} jobs in history",
            big,
            "MB",
            peer_name="100 jobs in history",
            peer=small,
            target="<= 1.5x",
        ),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--rss":
        print(f"{asyncio.run(_measure_rss(sys.argv[2])):.1f}")
    else:
        for result in run():
            print(result)
