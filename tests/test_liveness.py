"""Liveness: a record is alive only if its pid *and* start time match a running non-zombie.

The foreign processes here are spawned by the test (no state folder in their argv or
environment), so they are killed in ``finally`` blocks, not by the fixture.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

import psutil
import pytest

from jobcore.base import clock
from jobcore.ops import launcher
from jobcore.ops.reconcile import WORKER_DIED, reconcile
from jobcore.procs.identity import (
    boot_id,
    identity_of,
    is_alive,
    same_process,
)
from jobcore.procs.tree import kill_job_tree
from jobcore.state.models import ProcessIdentity
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from tests.conftest import CLI, wait_for
from tests.reliability.support import fake_running, foreign_process, job_by_hand, real_start
from tests.rows import set_row


def test_identity_of_matches_psutil_even_with_odd_process_names(tmp_path: Path) -> None:
    """/proc/PID/stat's name field may hold spaces and parentheses; the start ticks after it
    must still be read right (checked against psutil's create time)."""
    odd = tmp_path / "we ird) (name"
    shutil.copy("/bin/sleep", odd)
    with foreign_process([str(odd), "30"]) as proc:
        identity = identity_of(proc.pid)
        assert identity is not None and identity.boot_id == boot_id() != ""
        ticks = os.sysconf("SC_CLK_TCK")
        expected = psutil.Process(proc.pid).create_time() - psutil.boot_time()
        assert abs(identity.start / ticks - expected) < 0.05
        assert is_alive(identity)
    assert identity_of(proc.pid) is None or not is_alive(identity)


def test_same_process_rules() -> None:
    me = identity_of(os.getpid())
    assert me is not None
    assert same_process(me, me)
    assert not same_process(me, ProcessIdentity(me.pid + 1, me.start, me.boot_id))
    assert not same_process(me, ProcessIdentity(me.pid, me.start + 1, me.boot_id))  # 1 tick
    assert not same_process(me, ProcessIdentity(me.pid, me.start, "another-boot"))


def test_live_unrelated_process_with_another_start_is_dead_and_never_signalled(
    cli: CLI, state: StateDir, store: Store
) -> None:
    with foreign_process(["sh", "-c", "sleep 300 & wait"], start_new_session=True) as foreign:
        wait_for(lambda: psutil.Process(foreign.pid).children())
        child = psutil.Process(foreign.pid).children()[0]
        job = job_by_hand(state, store, ["sleep", "300"])
        start = real_start(foreign.pid)
        fake_running(store, job.id, foreign.pid, start + 100)  # same pid, another process
        set_row(store, job.id, cmd_pid=child.pid, cmd_start=real_start(child.pid) + 100)

        proc = cli("stop", "--grace", "0", job.id, check=False)
        assert proc.returncode == 1
        assert proc.stderr == f"jobcore: error: job {job.id} is failed; there is nothing to stop\n"
        data = cli.show(job.id)
        assert data["status"] == "failed" and data["error"] == WORKER_DIED
        cli("ls")
        cli("kill", job.id, check=False)
        time.sleep(0.2)
        assert foreign.poll() is None and child.is_running() and child.status() != "zombie"
        assert psutil.Process(foreign.pid).status() != psutil.STATUS_ZOMBIE


def test_positive_control_a_matching_identity_is_alive(
    cli: CLI, state: StateDir, store: Store
) -> None:
    """The same set-up with the right start time reads as running: the check can tell."""
    with foreign_process() as foreign:
        job = job_by_hand(state, store, ["sleep", "300"])
        fake_running(store, job.id, foreign.pid, real_start(foreign.pid))
        assert cli.show(job.id)["status"] == "running"
        fake_running(store, job.id, foreign.pid, real_start(foreign.pid), boot="other-boot")
        assert cli.show(job.id)["status"] == "failed"  # same pid and ticks, earlier boot
        assert foreign.poll() is None


def test_proctree_never_signals_the_children_of_a_reused_pid(state: StateDir) -> None:
    with foreign_process(["sh", "-c", "sleep 300 & wait"], start_new_session=True) as foreign:
        wait_for(lambda: psutil.Process(foreign.pid).children())
        child = psutil.Process(foreign.pid).children()[0]
        wrong = ProcessIdentity(foreign.pid, real_start(foreign.pid) + 7, boot_id())
        assert kill_job_tree("zzzzz", wrong, grace=0.0) == 0
        time.sleep(0.1)
        assert child.is_running() and child.status() != psutil.STATUS_ZOMBIE


def test_zombie_worker_is_dead(cli: CLI, state: StateDir, store: Store) -> None:
    """A worker that died but was not reaped (its parent is this test) still "exists" for
    kill(pid, 0); it must read as dead."""
    job = launcher.launch(state, store, ["sleep", "300"])  # the worker is our child
    pid = store.get(job.id).worker.pid
    try:
        data = cli.wait_status(job.id, {"running"})
        assert data["pid"] == pid and psutil.Process(pid).ppid() == os.getpid()
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
        os.kill(pid, 0)  # the zombie passes the naive check...
        data = cli.show(job.id)
        assert data["status"] == "failed" and data["error"] == WORKER_DIED  # ...not ours
    finally:
        reap(pid)


def reap(pid: int) -> None:
    """Kill and reap a child of this process (whatever the launcher keeps about it)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def test_queued_job_without_worker_is_waiting_and_the_next_command_starts_it(
    cli: CLI, state: StateDir, store: Store
) -> None:
    """A row with no worker (its launcher died after the insert) is not a dead job: it
    waits, and the next command's dispatcher starts it, however long ago it was queued."""
    old = job_by_hand(state, store, ["true"], queued_clock=clock.since_boot() - 3600)
    assert cli.wait_status(old.id, {"completed", "failed"})["status"] == "completed"


def test_reconcile_never_overwrites_a_final_state(state: StateDir, store: Store) -> None:
    """A worker that recorded its own ending and then exited is not "died unexpectedly"."""
    with foreign_process(["true"]) as gone:
        gone.wait()
    job = job_by_hand(state, store, ["true"])
    fake_running(store, job.id, gone.pid, 12345.0)
    set_row(store, job.id, status="completed", exit_code=0, finished_at=time.time())
    assert reconcile(store) == []
    assert store.get(job.id).status.value == "completed"


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_worker_records_its_identity_before_running(cli: CLI) -> None:
    job_id = cli.run("sleep", "300")
    data = cli.wait_status(job_id, {"running"})
    worker = identity_of(data["pid"])
    assert worker is not None and is_alive(worker)
    assert psutil.Process(data["pid"]).name() == f"jobcore-{job_id}"  # forked from the CLI
    cli("kill", job_id)
