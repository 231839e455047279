"""A dispatcher taking launches keeps a spare worker (docs/decisions/0029-a-spare-worker.md).

The next handed-off job's worker is that spare, a process older than the job; until then it
belongs to no job, holds nothing of the dispatcher's, and it never outlives its dispatcher
or ``SPARE_S`` without a launch. Every test drives the real ``python -m jobcore``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
from pathlib import Path

import psutil

from jobcore.ops.spare import SPARE_S
from jobcore.procs.tree import job_processes
from jobcore.state.paths import ENV_JOB, StateDir
from jobcore.state.store import Store
from tests.conftest import CLI, wait_for
from tests.test_handoff import _alive, _gone, jobcore, pin

ATTEMPTS = 5
"""Launches tried for one that finds a spare: a launch later than ``SPARE_S`` after the one
before (a slow moment of a busy machine) finds none, and is forked as before."""


def spares_of(home: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.cmdline()[:2] == ["jobcore-spare", str(home)] and _alive(proc):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def opened_by(pid: int) -> set[str]:
    """The names of what a process has open (files, FIFOs, sockets as ``socket:[inode]``)."""
    fds = Path(f"/proc/{pid}/fd")
    return {Path(os.readlink(fds / name)).name for name in os.listdir(fds)}


def spare_of(home: Path) -> psutil.Process:
    """The spare of ``home``'s dispatcher, once there is one (a launch was handed over) and
    it has let go of what it inherited (it names itself only then: its argv is set by the
    fork)."""
    ran = jobcore("run", "-q", "--", "true")
    assert ran.code == 0 and ran.handed_off, ran

    def ready() -> psutil.Process | None:
        for proc in spares_of(home):
            with contextlib.suppress(psutil.Error):
                if proc.name() == "jobcore-spare":
                    return proc
        return None

    return wait_for(ready, timeout=10)


def test_the_next_launch_is_run_by_the_spare(cli: CLI, store: Store) -> None:
    pin(cli.home)
    for _ in range(ATTEMPTS):
        spare = spare_of(cli.home)
        job_id = cli.run("sh", "-c", 'echo "$JOBCORE_JOB_ID"; sleep 30')
        worker = wait_for(lambda job_id=job_id: store.get(job_id).worker)
        if worker.pid == spare.pid:
            break
        cli("kill", job_id)
    else:
        raise AssertionError(f"none of {ATTEMPTS} launches was run by a spare")
    job = store.get(job_id)
    assert psutil.Process(worker.pid).create_time() < job.created_at  # ready before the job
    assert spare.cmdline()[:2] == ["jobcore-worker", job_id]
    marker = f"{ENV_JOB}={cli.home.resolve()}/jobs/{job_id}".encode()
    assert Path(f"/proc/{worker.pid}/environ").read_bytes().split(b"\0")[0] == marker
    running = cli.wait_command(job_id)
    assert wait_for(lambda: cli("logs", job_id).stdout) == f"{job_id}\n"
    cli("kill", job_id)
    assert cli.wait_status(job_id, {"failed"})["reason"] == "killed"
    wait_for(lambda: _gone(running["command_pid"]) and _gone(worker.pid))


def test_a_spare_holds_nothing_of_the_dispatcher_and_is_no_jobs(
    cli: CLI, state: StateDir, store: Store
) -> None:
    dispatcher = pin(cli.home)
    running = cli.run("sleep", "30")  # handed over too: the spare it may take is replaced
    cli.wait_command(running)
    spare = spare_of(cli.home)
    assert spare.ppid() == dispatcher.pid
    assert os.getsid(spare.pid) == spare.pid  # detached: a session of its own
    theirs, mine = opened_by(dispatcher.pid), opened_by(spare.pid)
    shared = {
        "null",  # its stdin
        "dispatch.log",  # its stdout and stderr until it has a job's log
        "jobcore.db",  # its own connection, opened ahead
        "jobcore.db-wal",
        "jobcore.db-shm",
    }
    assert {"dispatch.lock", "dispatch.fifo"} <= theirs
    assert not mine & theirs - shared
    environ = Path(f"/proc/{spare.pid}/environ").read_bytes()
    assert environ.split(b"\0")[0] == f"{ENV_JOB}=".encode()  # a marker of no job
    for job in store.list_jobs():  # what a stop of any job would signal
        assert spare.pid not in {
            proc.pid for proc in job_processes(state.job_marker(job.id), job.worker)
        }


def test_a_spare_is_let_go_after_launches_stop(cli: CLI) -> None:
    dispatcher = pin(cli.home)
    spare = spare_of(cli.home)
    wait_for(lambda: not _alive(spare), timeout=SPARE_S + 10)
    assert _alive(dispatcher)  # it stays for the job that waits; the spare does not
    assert not spares_of(cli.home)


def test_a_spare_dies_with_its_dispatcher(cli: CLI) -> None:
    dispatcher = pin(cli.home)
    spare = spare_of(cli.home)
    dispatcher.send_signal(signal.SIGKILL)
    wait_for(lambda: not _alive(spare), timeout=10)


def test_a_killed_spare_leaves_launches_working(cli: CLI, store: Store) -> None:
    pin(cli.home)
    spare = spare_of(cli.home)
    spare.send_signal(signal.SIGKILL)
    wait_for(lambda: not _alive(spare), timeout=10)
    job_id = cli.run("true")
    assert cli.wait_status(job_id, {"completed"})["exit_code"] == 0
    assert store.get(job_id).worker is not None and store.get(job_id).worker.pid != spare.pid


def test_a_draining_queue_hands_its_next_jobs_to_spares(cli: CLI, store: Store) -> None:
    cli("group", "add", "one", "--parallel", "1")
    ids = [cli.run("sleep", "0.3", opts=("--group", "one")) for _ in range(6)]
    for job_id in ids:
        cli.wait_status(job_id, {"completed"}, timeout=60)
    started = {
        job_id: store.conn.execute(
            "SELECT worker_start, cmd_start FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
        for job_id in ids
    }
    ticks = os.sysconf("SC_CLK_TCK")
    # A worker born while the job before was still running (its command sleeps 0.3 s) was a
    # spare: one forked for the job would be born after that job had ended.
    early = [
        job_id
        for before, job_id in itertools.pairwise(ids)
        if started[job_id]["worker_start"] < started[before]["cmd_start"] + 0.2 * ticks
    ]
    assert len(early) >= 3, started
