"""Launching under stress: 100 jobs at once, and launchers killed right after spawning."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from jobcore.base import clock
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from tests.conftest import CLI, wait_for
from tests.rows import set_row


def test_100_jobs_launched_at_once(cli: CLI, home: Path, store: Store) -> None:
    n = 100
    started = time.monotonic()
    launchers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jobcore",
                "run",
                "-q",
                "--name",
                f"mass-{i}",
                "--",
                "sh",
                "-c",
                f"echo job {i}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    ids = []
    failures = []
    for proc in launchers:
        out, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            failures.append(err.strip())
        ids.append(out.strip())
    launched = time.monotonic() - started

    def all_ended() -> bool:
        return all(j.status.is_final for j in store.list_jobs(name=None))

    wait_for(lambda: len(store.list_jobs()) == n and all_ended(), timeout=120, interval=0.2)
    took = time.monotonic() - started
    jobs = store.list_jobs()
    workers = {(j.worker.pid, j.worker.start) for j in jobs if j.worker}
    statuses = {s: sum(j.status.value == s for j in jobs) for s in ("completed", "failed")}
    print(
        f"100 parallel `jobcore run`: all returned in {launched:.1f}s, all ended in {took:.1f}s; "
        f"{len(set(ids))} distinct ids, {len(workers)} distinct workers, {statuses}, "
        f"launch errors: {failures}"
    )
    assert failures == []
    assert len(set(ids)) == n and all(len(i) == 5 for i in ids)
    assert {j.id for j in jobs} == set(ids)
    assert len(workers) == n, [(j.id, j.status, j.reason) for j in jobs if not j.worker]
    assert statuses["completed"] == n
    by_name = {j.name: j for j in jobs}
    for i in (0, 37, 99):  # each job ran its own command, logged in its own file
        log = (home / "jobs" / by_name[f"mass-{i}"].id / "output.log").read_text()
        assert log == f"job {i}\n"


def test_launcher_killed_at_once_leaves_no_stuck_job(
    cli: CLI, state: StateDir, store: Store
) -> None:
    """SIGKILL to `jobcore run` at several moments; every job that exists runs once and
    ends: one whose launcher died before starting it waits, and the next command starts it."""
    delays = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.6, 1.0]
    for delay in delays:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobcore", "run", "-q", "--", "sh", "-c", "sleep 0.2"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    time.sleep(0.5)
    orphans = [j for j in store.list_jobs(["queued"]) if j.worker is None]

    def settled() -> bool:
        cli("ls")  # reconcile, as any reading command does
        return all(not j.status.is_active for j in store.list_jobs())

    wait_for(settled, timeout=30, interval=0.2)
    jobs = store.list_jobs()
    outcome = {}
    for job in jobs:
        key = job.status.value if job.reason is None else f"{job.status.value}: {job.reason}"
        outcome[key] = outcome.get(key, 0) + 1
    print(
        f"{len(delays)} launchers killed after 0-1.0s: {len(jobs)} jobs exist, "
        f"{len(orphans)} had no worker; outcomes {outcome}"
    )
    for job in jobs:
        assert job.status.value == "completed", job
    assert len(jobs) <= len(delays)
    assert any(j.status.value == "completed" for j in jobs)  # the late kills came too late


def test_queued_row_with_an_old_queued_at_and_no_worker_runs(
    cli: CLI, state: StateDir, store: Store
) -> None:
    """The launcher died between creating the row and starting the worker: the job waits,
    and the next command gets it started."""
    job = store.create_job(["true"], "/", {}, None)
    state.make_job_dir(job.id)
    set_row(store, job.id, queued_clock=clock.since_boot() - 3600)
    assert cli.wait_status(job.id, {"completed", "failed"})["status"] == "completed"
