"""A cgroup v2 per job where one can be made: the command and everything it starts is in it,
whatever it does to its environment or session; stop, reconcile and the end of the run empty
it and the worker removes it. Elsewhere (JOBCORE_CGROUP=off here) the tree + marker method."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jobcore.state.paths import StateDir
from tests.conftest import CLI, wait_for
from tests.reliability.support import (
    escapee_script,
    read_escapee,
    skip_without_cgroup2,
    wait_gone,
    workers_of,
)

pytestmark = pytest.mark.usefixtures("needs_cgroup2")


@pytest.fixture
def needs_cgroup2() -> None:
    skip_without_cgroup2()


def job_cgroup(state: StateDir, job_id: str) -> Path:
    """The cgroup the job's worker recorded for its current run."""
    from jobcore.procs import cgroup

    path = cgroup.recorded(state, job_id)
    assert path is not None, "the job recorded no cgroup"
    return path


def populated(path: Path) -> bool:
    """``cgroup.events`` says so; a removed cgroup holds nothing."""
    try:
        return "populated 1" in (path / "cgroup.events").read_text()
    except FileNotFoundError:
        return False


def in_cgroup(pid: int) -> str:
    with open(f"/proc/{pid}/cgroup") as fh:
        return next(line for line in fh if line.startswith("0::")).strip()[3:]


def test_command_runs_in_its_own_cgroup_and_the_worker_does_not(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("sh", "-c", "cat /proc/self/cgroup; sleep 300")
    data = cli.wait_command(job_id)
    path = job_cgroup(state, job_id)
    assert path.is_dir() and populated(path)
    assert f"{job_id}" in path.name
    line = wait_for(lambda: [x for x in state.log_path(job_id).read_text().split() if "0::" in x])
    assert line[0].endswith("/" + path.name)
    assert in_cgroup(data["command_pid"]).endswith("/" + path.name)
    assert not in_cgroup(data["pid"]).endswith("/" + path.name)  # cgroup.kill spares it
    # and it leaves the launcher's cgroup once the command runs (a closing session spares it)
    wait_for(lambda: in_cgroup(data["pid"]).endswith("/jobcore/workers"))
    cli("kill", job_id)


def test_cgroup_is_removed_when_the_job_ends(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("sh", "-c", "sleep 0.3")
    cli.wait_status(job_id, {"completed"})
    path = job_cgroup(state, job_id)
    assert not path.exists()


def test_reconcile_kills_an_escapee_with_no_marker_after_kill9_of_the_worker(
    cli: CLI, state: StateDir, tmp_path: Path
) -> None:
    """env -i clears JOBCORE_JOB_ID, setsid leaves the group, kill -9 of the worker loses the
    tree: only the cgroup still knows the escapee is the job's."""
    pidfile = tmp_path / "escapee.pid"
    job_id = cli.run("sh", "-c", escapee_script(pidfile, state.root))
    data = cli.wait_command(job_id)
    escapee = read_escapee(pidfile)
    os.kill(data["pid"], signal.SIGKILL)
    assert cli.wait_status(job_id, {"failed"})["reason"] == "worker died unexpectedly"
    _, left = wait_gone([escapee], timeout=10)
    assert left == [], "the escapee survived its job"
    wait_for(lambda: not job_cgroup(state, job_id).exists(), timeout=10)


def test_stop_empties_the_cgroup_escapee_included(
    cli: CLI, state: StateDir, tmp_path: Path
) -> None:
    pidfile = tmp_path / "escapee.pid"
    job_id = cli.run("sh", "-c", escapee_script(pidfile, state.root))
    cli.wait_command(job_id)
    escapee = read_escapee(pidfile)
    path = job_cgroup(state, job_id)
    assert populated(path)
    cli("stop", "--grace", "1", job_id)
    assert cli.show(job_id)["status"] == "paused"
    assert not populated(path)
    assert wait_gone([escapee], timeout=0)[1] == []


def test_doctor_says_which_method_tracks_processes(cli: CLI) -> None:
    err = cli("doctor").stderr
    assert "process tracking: cgroup v2 at " in err and "(exact)" in err
    off = subprocess.run(
        [sys.executable, "-m", "jobcore", "doctor"],
        env={**os.environ, "JOBCORE_CGROUP": "off"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "process tracking: process tree + environment marker" in off.stderr
    assert "JOBCORE_CGROUP=off" in off.stderr


def test_with_cgroups_off_the_job_has_none(cli: CLI, state: StateDir, monkeypatch) -> None:
    from jobcore.procs import cgroup

    monkeypatch.setenv("JOBCORE_CGROUP", "off")
    job_id = cli.run("sh", "-c", "cat /proc/self/cgroup")
    cli.wait_status(job_id, {"completed"})
    assert cgroup.recorded(state, job_id) is None


def test_batch_items_run_in_the_jobs_cgroup(cli: CLI, state: StateDir, tmp_path: Path) -> None:
    items = tmp_path / "items.txt"
    items.write_text("a\nb\nc\n")
    job_id = cli.run(
        "sh", "-c", "grep ^0:: /proc/self/cgroup; sleep 0.2", opts=("--each", str(items), "-j", "2")
    )
    cli.wait_status(job_id, {"completed"})
    path = job_cgroup(state, job_id)
    lines = [x for x in state.log_path(job_id).read_text().splitlines() if "0::" in x]
    assert len(lines) == 3
    assert all(x.endswith("/" + path.name) for x in lines), lines
    assert not path.exists()


def test_a_nested_job_is_not_killed_with_the_outer_one(cli: CLI, state: StateDir) -> None:
    """The inner worker is born in the outer job's cgroup and moves out before anything else."""
    inner_cmd = f"{sys.executable} -m jobcore run -q -- sleep 300; sleep 300"
    outer = cli.run("sh", "-c", inner_cmd)
    cli.wait_command(outer)
    inner = wait_for(lambda: [j["id"] for j in cli.ls() if j["id"] != outer])[0]
    cli.wait_command(inner)
    outer_cg, inner_cg = job_cgroup(state, outer), job_cgroup(state, inner)
    assert outer_cg != inner_cg
    (inner_worker,) = workers_of(inner)
    assert not in_cgroup(inner_worker.pid).endswith("/" + outer_cg.name)
    cli("stop", "--grace", "1", outer)
    assert cli.show(outer)["status"] == "paused"
    assert cli.show(inner)["status"] == "running"
    assert populated(inner_cg)
    cli("kill", inner)


def test_kill_without_cgroup_kill_signals_every_member(tmp_path: Path) -> None:
    """Kernels before 5.14 have no cgroup.kill: every pid in cgroup.procs gets SIGKILL."""
    from jobcore.procs import cgroup

    tracking = cgroup.tracking()
    assert tracking.base is not None, tracking.reason
    group = cgroup.JobCgroup(tracking.base / f"test-{os.getpid()}")
    group.create()
    procs = [
        subprocess.Popen(
            ["sh", "-c", "setsid sleep 300 & exec sleep 300"],
            preexec_fn=group.enter,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:
        wait_for(lambda: len(group.pids()) == 4)
        group.kill_each()
        wait_for(lambda: not group.populated())
        group.remove()
        assert not group.path.exists()
    finally:
        group.stop(0.0)
        for proc in procs:
            proc.wait()
        group.remove()


def test_dashboard_cpu_counts_processes_that_came_and_went(
    cli: CLI, state: StateDir, store
) -> None:
    """A build-like command: all its CPU is in children that live a few ms each. cpu.stat
    counts them; a look at the process tree once a second never sees one twice."""
    from jobtui.usage import TreeUsage

    busy = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"
    job_id = cli.run("sh", "-c", f"while :; do sh -c '{busy}'; done")
    cli.wait_command(job_id)
    meter = TreeUsage(state)
    job = store.get(job_id)
    wait_for(lambda: meter.measure([job])[job_id].cpu_percent >= 20, timeout=30, interval=1.0)
    cli("kill", job_id)


def test_doctor_fix_empties_and_removes_a_cgroup_no_run_owns(
    cli: CLI, state: StateDir, home: Path
) -> None:
    from jobcore.procs import cgroup

    job_id = cli.run("true")
    cli.wait_status(job_id, {"completed"})
    base = cgroup.tracking().base
    assert base is not None
    # Named for a live process (this one), not a dead worker: a starting worker of a test
    # running beside this one removes empty cgroups whose worker is gone.
    stale = cgroup.JobCgroup(base / f"{cgroup.folder_token(state)}-{job_id}-{os.getpid()}")
    stale.create()
    proc = subprocess.Popen(
        ["sh", "-c", f"sleep 300; : {home}"], preexec_fn=stale.enter, stdin=subprocess.DEVNULL
    )
    try:
        found = cli("doctor", check=False)
        assert found.returncode == 1 and "orphan-cgroup" in found.stderr
        assert proc.poll() is None  # reported, not touched
        cli("doctor", "--fix")
        assert proc.wait(timeout=10) < 0  # killed by a signal
        assert not stale.path.exists()
    finally:
        stale.stop(0.0)
        proc.wait()
        stale.remove()


def test_an_empty_cgroup_of_a_killed_worker_is_removed_by_the_next_worker(
    cli: CLI, state: StateDir
) -> None:
    """A worker killed with everything in its job (a test's teardown, an OOM kill of the
    whole session) leaves an empty cgroup and no reconcile to remove it."""
    job_id = cli.run("sleep", "300")
    data = cli.wait_command(job_id)
    path = job_cgroup(state, job_id)
    os.kill(data["command_pid"], signal.SIGKILL)
    os.kill(data["pid"], signal.SIGKILL)
    wait_for(lambda: not populated(path))
    wait_for(lambda: not os.path.exists(f"/proc/{data['pid']}"))
    # Left behind now, unless another test's worker has swept it already (-n 2).
    other = cli.run("true")
    cli.wait_status(other, {"completed"})
    assert not path.exists()
