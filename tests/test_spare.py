"""A dispatcher taking launches keeps a spare worker (docs/decisions/0029-a-spare-worker.md),
forked by its spare maker (docs/decisions/0030-a-spare-maker.md).

The next handed-off job's worker is that spare, a process older than the job; until then it
belongs to no job, holds nothing of the dispatcher's, and it never outlives its dispatcher
or ``SPARE_S`` without a launch. Nor does the maker. Every test drives the real
``python -m jobcore``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
from pathlib import Path

import psutil

from jobcore.ops import dispatch, spare, spawn
from jobcore.ops.spare import SPARE_S
from jobcore.procs.identity import self_identity
from jobcore.procs.tree import job_processes
from jobcore.state.paths import ENV_JOB, StateDir
from jobcore.state.store import Store
from tests.conftest import CLI, wait_for
from tests.test_handoff import _alive, _gone, jobcore, pin, probing_job, read_when_written

ATTEMPTS = 5
"""Launches tried for one that finds a spare: a launch later than ``SPARE_S`` after the one
before (a slow moment of a busy machine) finds none, and is forked as before."""


def spares_of(home: Path, kind: str = "jobcore-spare") -> list[psutil.Process]:
    """The spares of ``home`` (or, as ``jobcore-spares``, their maker)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.cmdline()[:2] == [kind, str(home)] and _alive(proc):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def maker_of(spare: psutil.Process) -> psutil.Process:
    """The spare maker that forked ``spare``: its parent, while both live."""
    maker = psutil.Process(spare.ppid())
    assert maker.cmdline()[0] == "jobcore-spares", maker.cmdline()
    return maker


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
    maker = maker_of(spare)
    assert maker.ppid() == dispatcher.pid  # the spare's parent, a fork of the dispatcher
    theirs = opened_by(dispatcher.pid)
    assert {"dispatch.lock", "dispatch.fifo"} <= theirs
    streams = {
        "null",  # their stdin
        "dispatch.log",  # their stdout and stderr until a job's log
    }
    assert not opened_by(maker.pid) & theirs - streams
    # the spare's own connection, opened ahead
    assert not opened_by(spare.pid) & theirs - streams - {
        "jobcore.db",
        "jobcore.db-wal",
        "jobcore.db-shm",
    }
    for proc in (spare, maker):
        assert os.getsid(proc.pid) == proc.pid  # detached: a session of its own
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes()
        assert environ.split(b"\0")[0] == f"{ENV_JOB}=".encode()  # a marker of no job
    for job in store.list_jobs():  # what a stop of any job would signal
        signalled = {proc.pid for proc in job_processes(state.job_marker(job.id), job.worker)}
        assert not signalled & {spare.pid, maker.pid}


def test_a_spare_and_its_maker_are_let_go_after_launches_stop(cli: CLI) -> None:
    dispatcher = pin(cli.home)
    spare = spare_of(cli.home)
    maker = maker_of(spare)
    wait_for(lambda: not _alive(spare) and not _alive(maker), timeout=SPARE_S + 10)
    assert _alive(dispatcher)  # it stays for the job that waits; they do not
    assert not spares_of(cli.home) and not spares_of(cli.home, "jobcore-spares")
    assert maker.pid not in {child.pid for child in dispatcher.children()}  # no zombie


def test_a_spare_and_its_maker_die_with_their_dispatcher(cli: CLI) -> None:
    dispatcher = pin(cli.home)
    spare = spare_of(cli.home)
    maker = maker_of(spare)
    dispatcher.send_signal(signal.SIGKILL)
    wait_for(lambda: not _alive(spare) and not _alive(maker), timeout=10)


def test_a_killed_spare_leaves_launches_working(cli: CLI, store: Store) -> None:
    pin(cli.home)
    spare = spare_of(cli.home)
    spare.send_signal(signal.SIGKILL)
    wait_for(lambda: not _alive(spare), timeout=10)
    job_id = cli.run("true")
    assert cli.wait_status(job_id, {"completed"})["exit_code"] == 0
    assert store.get(job_id).worker is not None and store.get(job_id).worker.pid != spare.pid


def test_a_killed_maker_leaves_launches_working(cli: CLI, store: Store) -> None:
    pin(cli.home)
    maker = maker_of(spare_of(cli.home))
    maker.send_signal(signal.SIGKILL)
    wait_for(lambda: not _alive(maker), timeout=10)
    makers = set()
    for _ in range(ATTEMPTS):  # the kept spare takes the first; a new maker makes the next
        job_id = cli.run("true")
        makers |= {proc.pid for proc in spares_of(cli.home, "jobcore-spares")}
        assert cli.wait_status(job_id, {"completed"})["exit_code"] == 0
        if makers - {maker.pid}:
            break
    assert makers - {maker.pid}, "no new maker after one was killed"


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


def test_a_job_whose_spare_is_gone_before_it_is_recorded_goes_back_in_line(
    state: StateDir, store: Store, tmp_path: Path
) -> None:
    """Handed over (the message waits in its socket), the spare dies and its maker collects it
    before the dispatcher records it: nothing ran, so the job waits in line again."""
    ours, theirs = spare.socket_pair()  # ``theirs`` held here: the hand-off is accepted
    gone = subprocess.Popen(["true"])
    gone.wait()
    job = store.create_job(["true"], str(tmp_path), {}, None)
    state.make_job_dir(job.id)
    claim = dispatch.claim_next(store, job.queue.group, self_identity())
    assert claim is not None and claim.job_id == job.id
    spare.keep(spare.Spare(gone.pid, ours, (state.root, dispatch.AFTER_JOB)))
    try:
        spawn.spawn_worker(state, store, job.id, claim=claim.token, follow_ups=dispatch.AFTER_JOB)
    finally:
        theirs.close()
    row = store.conn.execute("SELECT claim, worker_pid FROM jobs WHERE id = ?", (job.id,))
    assert tuple(row.fetchone()) == (None, None)  # in line again, and no worker to wait for


def test_spares_after_a_renice_of_the_dispatcher_start_at_its_new_nice(
    cli: CLI, store: Store, tmp_path: Path
) -> None:
    dispatcher = pin(cli.home)
    spare_of(cli.home)  # a spare, and its maker, at nice 0
    os.setpriority(os.PRIO_PROCESS, dispatcher.pid, 5)
    seen = []
    for n in range(3):  # the first may be the spare kept before the renice (decision 0029)
        ran = probing_job("nice", tmp_path / f"nice{n}", wrapper=["nice", "-n", "5"])
        assert ran.handed_off, ran.err  # taken: a caller at nice 5, as the dispatcher is now
        seen.append(read_when_written(tmp_path / f"nice{n}").strip())
        cli("kill", ran.job_id)
    assert seen[1:] == ["5", "5"], seen
