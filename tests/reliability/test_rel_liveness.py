"""Dead workers are reported dead (zombies, reused pids) and foreign processes never signalled;
the stored identity does not depend on the wall clock."""

from __future__ import annotations

import os
import signal
import time

import psutil

from jobcore.ops import launcher
from jobcore.ops.reconcile import WORKER_DIED
from jobcore.procs.identity import (
    WALLCLOCK_TOLERANCE_S,
    identity_of,
    is_alive,
    same_process,
)
from jobcore.state.models import ProcessIdentity
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from tests.conftest import CLI, wait_for
from tests.reliability.support import (
    descendants,
    fake_running,
    foreign_process,
    job_by_hand,
    real_start,
)
from tests.test_liveness import reap


def test_zombie_and_reused_pid_are_dead_and_the_foreign_process_untouched(
    cli: CLI, state: StateDir, store: Store
) -> None:
    # 1. A zombie worker: killed, never reaped (its parent is this test process).
    zombie_job = launcher.launch(state, store, ["sleep", "300"])
    worker_pid = store.get(zombie_job.id).worker.pid
    # 2. A reused pid: a live process of ours that is not the recorded one.
    with foreign_process(["sh", "-c", "sleep 300 & wait"], start_new_session=True) as foreign:
        try:
            cli.wait_status(zombie_job.id, {"running"})
            assert psutil.Process(worker_pid).ppid() == os.getpid()
            os.kill(worker_pid, signal.SIGKILL)
            wait_for(lambda: psutil.Process(worker_pid).status() == psutil.STATUS_ZOMBIE)
            wait_for(lambda: descendants(foreign.pid))
            foreign_tree = [psutil.Process(foreign.pid), *psutil.Process(foreign.pid).children()]
            reused = job_by_hand(state, store, ["sleep", "300"])
            fake_running(store, reused.id, foreign.pid, real_start(foreign.pid) - 3)
            started = time.monotonic()
            jobs = {j["id"]: j for j in cli.ls()}
            stop = cli("stop", "--grace", "0", reused.id, check=False)
            kill = cli("kill", reused.id, check=False)
            took = time.monotonic() - started
            for job_id in (zombie_job.id, reused.id):
                assert jobs[job_id]["status"] == "failed"
                assert jobs[job_id]["error"] == WORKER_DIED
            assert stop.returncode == kill.returncode == 1
            time.sleep(0.2)
            untouched = sum(p.is_running() and p.status() != "zombie" for p in foreign_tree)
            print(
                f"zombie worker -> {jobs[zombie_job.id]['status']}, reused pid -> "
                f"{jobs[reused.id]['status']}; foreign processes alive after ls/stop/kill: "
                f"{untouched}/{len(foreign_tree)} ({took:.2f}s)"
            )
            assert untouched == len(foreign_tree)
        finally:
            reap(worker_pid)


def test_stored_identity_survives_a_wall_clock_step(monkeypatch) -> None:
    """A stored identity keeps matching after the wall clock moves.

    On Linux jobcore stores the start time as /proc/PID/stat field 22 (clock ticks since
    boot) plus /proc/sys/kernel/random/boot_id. Neither depends on the wall clock, so the
    tolerance is exact: ``same_process`` allows half a tick (integers must be equal), and a
    step of the clock by any amount (simulated here by moving ``time.time``, which is what
    psutil's create_time would shift with) changes nothing. Elsewhere (no boot_id) the start
    is psutil's create_time, compared with WALLCLOCK_TOLERANCE_S (1 s): a step larger than
    that makes a live worker look dead there, which this test documents too.
    """
    with_clock = {}
    recorded = identity_of(os.getpid())
    assert recorded is not None and recorded.boot_id
    # The stored start is the kernel's tick count, read straight from /proc: no clock in it.
    with open(f"/proc/{os.getpid()}/stat", "rb") as fh:
        ticks = int(fh.read().rsplit(b")", 1)[1].split()[19])
    assert recorded.start == ticks
    with open("/proc/sys/kernel/random/boot_id") as fh:
        assert recorded.boot_id == fh.read().strip()
    for shift in (-86_400.0, -3.0, 0.0, 2.5, 3_600.0):
        real_time = time.time

        def shifted(real_time=real_time, shift=shift) -> float:
            return real_time() + shift

        monkeypatch.setattr(time, "time", shifted)
        now = identity_of(os.getpid())
        monkeypatch.undo()
        assert now is not None
        with_clock[shift] = same_process(recorded, now) and is_alive(recorded)
    print(f"wall-clock steps (s) -> identity still matches: {with_clock}")
    assert all(with_clock.values())

    # The create-time fallback (no boot id): a psutil-style start shifted with the clock.
    created = psutil.Process().create_time()
    fallback = ProcessIdentity(os.getpid(), created, "")
    tolerance = {
        shift: same_process(fallback, ProcessIdentity(os.getpid(), created + shift, ""))
        for shift in (0.5, WALLCLOCK_TOLERANCE_S, 1.5, 3_600.0)
    }
    print(f"create-time fallback, clock step (s) -> matches: {tolerance}")
    assert tolerance == {0.5: True, WALLCLOCK_TOLERANCE_S: True, 1.5: False, 3_600.0: False}
    # And on Linux a single tick of difference is another process.
    assert not same_process(recorded, ProcessIdentity(recorded.pid, recorded.start + 1, ""))
    assert not same_process(
        recorded, ProcessIdentity(recorded.pid, recorded.start + 1, recorded.boot_id)
    )
