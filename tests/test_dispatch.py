"""A waiting job is a row: no process waits for it, and a dispatcher exists only while jobs wait."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from jobcore.base import clock
from jobcore.ops import dispatch, spare
from jobcore.procs.identity import self_identity
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from tests.conftest import (
    CLI,
    _processes_of,
    dispatchers_of,
    kill_all_of,
    kill_dispatchers,
    wait_for,
)
from tests.reliability.support import foreign_process, job_by_hand
from tests.rows import set_row

ROOT = Path(__file__).resolve().parent.parent


def _jobcore_processes(home: Path) -> list[psutil.Process]:
    """Processes of this state folder that are jobcore itself (workers, the dispatcher)."""
    found = []
    for proc in _processes_of(home):
        try:
            if any("jobcore" in part for part in proc.cmdline()[:3]):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def test_fifty_waiting_jobs_cost_at_most_one_process(cli: CLI, store: Store) -> None:
    cli("group", "add", "one", "--parallel", "1")
    blocker = cli.run("sleep", "60", opts=("--group", "one"))
    worker = cli.wait_command(blocker)["pid"]
    ids = [cli.run("true", opts=("--group", "one")) for _ in range(50)]
    wait_for(lambda: all(store.get(i).waiting_on == "slot" for i in ids))

    def beyond() -> list[psutil.Process]:
        return [p for p in _jobcore_processes(cli.home) if p.pid != worker]

    # the dispatcher, and its spare worker and their maker until SPARE_S after the last launch
    assert len(beyond()) <= 3, [p.cmdline() for p in beyond()]
    wait_for(lambda: len(beyond()) <= 1, timeout=spare.SPARE_S + 5)
    assert {j["status"] for j in cli.ls() if j["id"] in ids} == {"queued"}
    cli("kill", blocker)
    for job_id in ids:
        cli.wait_status(job_id, {"completed"})


def test_the_dispatcher_leaves_when_nothing_waits(cli: CLI, tmp_path: Path) -> None:
    cli("group", "add", "one", "--parallel", "1")
    gate = tmp_path / "go"
    hold = f"while [ ! -e {gate} ]; do sleep 0.05; done"
    ids = [cli.run("sh", "-c", hold, opts=("--group", "one"))]
    ids += [cli.run("true", opts=("--group", "one")) for _ in range(2)]
    assert dispatchers_of(cli.home)  # two jobs wait
    gate.touch()
    for job_id in ids:
        cli.wait_status(job_id, {"completed"})
    wait_for(lambda: not _jobcore_processes(cli.home), timeout=10)


def test_a_killed_worker_starts_the_next_job(cli: CLI) -> None:
    cli("group", "add", "one", "--parallel", "1")
    first = cli.run("sleep", "60", opts=("--group", "one"))
    second = cli.run("true", opts=("--group", "one"))
    worker = cli.wait_command(first)["pid"]
    os.kill(worker, signal.SIGKILL)
    started = time.monotonic()
    wait_for(lambda: cli.show(second)["status"] == "completed", timeout=10)
    print(f"kill -9 of the running worker: next job done {time.monotonic() - started:.3f}s later")
    assert cli.show(first)["error"] == "worker died unexpectedly"


def test_a_killed_dispatcher_is_restarted_by_the_next_command(cli: CLI) -> None:
    cli("group", "add", "one", "--parallel", "1")
    first = cli.run("sleep", "60", opts=("--group", "one"))
    second = cli.run("true", opts=("--group", "one"))
    worker = cli.wait_command(first)["pid"]
    wait_for(lambda: dispatchers_of(cli.home))
    kill_dispatchers(cli.home)
    os.kill(worker, signal.SIGKILL)  # nobody watches it now
    cli("ls")  # finds work waiting and no dispatcher
    cli.wait_status(second, {"completed"}, timeout=10)


def test_a_reboot_starts_waiting_jobs_at_the_next_command(cli: CLI, tmp_path: Path) -> None:
    cli("group", "add", "one", "--parallel", "1")
    first = cli.run("sleep", "60", opts=("--group", "one"))
    later = [cli.run("true", opts=("--group", "one")) for _ in range(3)]
    delayed = cli.run("true", opts=("--delay", "1s"))
    cli.wait_command(first)
    kill_all_of(cli.home)  # the machine went down: no process of jobcore survives
    assert not _processes_of(cli.home)
    cli("ls")
    for job_id in [*later, delayed]:
        cli.wait_status(job_id, {"completed"}, timeout=15)
    assert cli.show(first)["status"] == "failed"


def test_a_self_paused_job_waits_as_a_row_and_resumes_on_time(cli: CLI, tmp_path: Path) -> None:
    record = tmp_path / "record.txt"
    each = tmp_path / "items.txt"
    each.write_text("1\n2\n3\n4\n")
    opts = (
        "--each",
        str(each),
        "--call",
        "tests.examples.batchfuncs:pause_once",
        "--cwd",
        str(ROOT),
        "--env",
        f"RECORD={record}",
        "--env",
        "PAUSE_S=8",
    )
    job_id = cli.run(opts=opts)
    paused = cli.wait_status(job_id, {"paused", "completed", "failed"})
    assert paused["status"] == "paused" and paused["paused_until"] is not None
    # While it waits, the dispatcher is all that runs (its worker has left).
    wait_for(lambda: _jobcore_processes(cli.home) == dispatchers_of(cli.home) != [])
    assert cli.show(job_id)["status"] == "paused"
    data = cli.wait_status(job_id, {"completed", "failed"}, timeout=30)
    assert data["status"] == "completed"
    assert data["started_at"] >= paused["paused_until"][:19]
    assert sorted(record.read_text().split()) == ["1", "2", "3", "4"]
    assert "resumed by itself" in cli("logs", job_id).stdout


def test_a_claim_whose_starter_died_goes_back_in_line(
    cli: CLI, state: StateDir, store: Store, tmp_path: Path
) -> None:
    """A starter killed between its claim and the spawn: the job is not lost, and a worker
    of that dead claim that turns up late runs nothing."""
    runs = tmp_path / "runs.txt"
    job = job_by_hand(state, store, ["sh", "-c", f"echo ran >> {runs}"])
    with foreign_process(["true"]) as claimer:
        claimer.wait()
    set_row(
        store,
        job.id,
        claim="0123456789abcdef",
        claimer_pid=claimer.pid,
        claimer_start=1.0,
        claimer_boot=clock.boot_id(),
    )
    cli("ls")  # the claim is released and the job started
    cli.wait_status(job.id, {"completed"})
    late = [sys.executable, "-m", "jobcore.worker", str(state.root), job.id, "0123456789abcdef"]
    assert subprocess.run(late, capture_output=True, timeout=30).returncode == 0
    assert runs.read_text().split() == ["ran"]


def test_two_starters_never_claim_one_job(state: StateDir, store: Store) -> None:
    job = job_by_hand(state, store, ["true"])
    me = self_identity()
    first = dispatch.claim_next(store, "default", me)
    assert first is not None and first.job_id == job.id
    assert dispatch.claim_next(store, "default", me) is None


HOLD_SLOT = """
import sys, time
from pathlib import Path
from jobcore.state.paths import StateDir
from jobcore.state.queue import SlotFiles
fd = SlotFiles(StateDir(Path(sys.argv[1])), "one").take(1)
assert fd is not None
print("held", flush=True)
time.sleep(300)
"""


def _unread(fd: int) -> int:
    """Bytes waiting in a pipe, left where they are (FIONREAD)."""
    import fcntl
    import struct
    import termios

    return int(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0])


def _waits_in_poll(pid: int) -> bool:
    with open(f"/proc/{pid}/wchan") as fh:
        return "poll" in fh.read()


def test_a_worker_killed_after_recording_its_end_still_frees_its_slot_at_once(
    cli: CLI, store: Store, state: StateDir
) -> None:
    """A worker records its job's end, then hands its slot on: killed between the two, it
    never pokes the dispatcher, which must still see it go (its pidfd stays watched) rather
    than wait for its 10 s safety net."""
    from jobcore.ops import wakeup
    from jobcore.procs.identity import identity_of

    cli("group", "add", "one", "--parallel", "1")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SLOT, str(state.root)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        worker = identity_of(holder.pid)
        assert worker is not None
        first = job_by_hand(state, store, ["sleep", "300"], grp="one", status="running")
        set_row(store, first.id, worker=worker, started_at=clock.wall())
        waiting = cli.run("true", opts=("--group", "one"))
        wait_for(lambda: store.get(waiting).waiting_on == "slot")
        (dispatcher,) = wait_for(lambda: dispatchers_of(cli.home))
        wait_for(lambda: _waits_in_poll(dispatcher.pid))  # watching the worker
        set_row(store, first.id, status="completed", finished_at=clock.wall())  # no poke
        fifo = wakeup.open_fifo(state, os.O_RDONLY | os.O_NONBLOCK)
        try:
            assert wakeup.poke(state)  # a pass that finds the first job ended, slot held
            wait_for(lambda: _unread(fifo) == 0)  # it drained the FIFO: its pass has begun
        finally:
            os.close(fifo)
        wait_for(lambda: _waits_in_poll(dispatcher.pid))  # asleep again
        holder.kill()
        cli.wait_status(waiting, {"completed"}, timeout=3)
    finally:
        holder.kill()
        holder.wait()


def test_a_worker_dead_before_it_is_watched_counts_as_gone(state: StateDir, store: Store) -> None:
    """A worker killed the instant it was started, before the dispatcher took its pidfd,
    would wake nobody: finding it dead is itself the event (reconcile now, not in 10 s)."""
    from jobcore.ops import wakeup
    from jobcore.ops.dispatcher import Dispatcher
    from jobcore.procs.identity import identity_of

    lock_fd = wakeup.open_lock(state)
    dispatcher = Dispatcher(state, lock_fd)
    try:
        with foreign_process() as live:
            live_id = identity_of(live.pid)
            assert live_id is not None
            running = job_by_hand(state, store, ["sleep", "300"], status="running")
            set_row(store, running.id, worker=live_id)
            assert dispatcher._watch_workers() is False  # alive: watched, nothing gone
            assert set(dispatcher.watched) == {live.pid}
            dead = subprocess.Popen(["true"])
            dead_id = identity_of(dead.pid)
            dead.wait()
            assert dead_id is not None
            other = job_by_hand(state, store, ["sleep", "300"], status="running")
            set_row(store, other.id, worker=dead_id)
            assert dispatcher._watch_workers() is True  # dead before it was ever watched
            assert set(dispatcher.watched) == {live.pid}
            set_row(store, other.id, status="failed")  # what the next pass's reconcile does
            assert dispatcher._watch_workers() is False
            live.kill()
            live.wait()
            assert dispatcher._watch_workers() is True  # exited while watched
            assert not dispatcher.watched
    finally:
        dispatcher.close()
        os.close(lock_fd)
