"""A job owns exactly its processes: same-id jobs of two state folders, jobs launched from a
job, and a group slot whose worker was killed with SIGKILL. Each test prints its figure."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from jobcore.state.paths import StateDir, resolve_home
from tests.conftest import CLI, HomeCLI, wait_for
from tests.reliability.support import descendants, ident, is_running, read_log
from tests.test_ownership import launch_with_id, slot_attack

# The job that must not be touched: a shell that records any TERM, INT or HUP it gets, a plain
# child, a setsid child, and a loop of short sleeps. It prints "ready" once all exist.
VICTIM = r"""
trap 'echo "$$ got a signal" >> {record}' TERM INT HUP
sleep 300 &
setsid sleep 300 &
echo ready
while :; do sleep 0.2; done
"""


def _cmdline(pid: int) -> list[str]:
    try:
        return psutil.Process(pid).cmdline()
    except psutil.Error:
        return []


def test_same_id_jobs_in_two_state_folders(
    cli: CLI, state: StateDir, other_home: Path, tmp_path: Path
) -> None:
    record = tmp_path / "signals"
    mine = cli.run("sh", "-c", VICTIM.format(record=shlex.quote(str(record))))
    worker = cli.wait_command(mine)["pid"]
    wait_for(lambda: b"ready" in read_log(state, mine), timeout=20)
    wait_for(lambda: len(descendants(worker)) >= 4, timeout=10)
    victims = [i for i in descendants(worker) if _cmdline(i[0]) != ["sleep", "0.2"]]

    other, theirs_state = HomeCLI(other_home), resolve_home(other_home)

    def again(command: list[str]) -> str:
        other("clean", "--status", "failed,paused,completed", check=False)
        return launch_with_id(theirs_state, mine, command)

    # 1. the end-of-run sweep of a job that left a daemon behind
    theirs = again(["sh", "-c", "setsid sleep 300 & exit 0"])
    other.wait_status(theirs, {"completed"})
    assert b"stopped 1 leftover" in read_log(theirs_state, theirs)
    # 2. stop, 3. kill
    theirs = again(["sleep", "300"])
    other.wait_command(theirs)
    other("stop", "--grace", "1", theirs)
    other("resume", theirs)
    other.wait_command(theirs)
    other("kill", theirs)
    # 4. kill -9 of the worker, then the reconcile of the next reading command
    theirs = again(["sleep", "300"])
    data = other.wait_command(theirs)
    their_worker, leftover = (ident(psutil.Process(data[k])) for k in ("pid", "command_pid"))
    os.kill(data["pid"], signal.SIGKILL)
    wait_for(lambda: not is_running(their_worker), timeout=10)  # a zombie child of ours
    assert other.show(theirs)["error"] == "worker died unexpectedly"
    wait_for(lambda: not is_running(leftover), timeout=10)
    # 5. doctor --fix of a process left behind by the other folder's ended job
    marker = theirs_state.job_marker(theirs)
    orphan = subprocess.Popen(["sleep", "300"], env={**os.environ, "JOBCORE_JOB": marker})
    try:
        other("doctor", "--fix", check=False)
        assert orphan.wait(timeout=10) == -signal.SIGKILL
    finally:
        orphan.kill()

    dead = [i for i in victims if not is_running(i)]
    caught = record.read_text().count("got a signal") if record.exists() else 0
    foreign = len(dead) + caught
    print(
        f"same-id jobs in two state folders: {foreign} foreign signals ({len(victims)} "
        f"processes of job {mine} watched through the other folder's end-of-run sweep, "
        "stop, resume, kill, kill -9 + reconcile and doctor --fix)"
    )
    assert foreign == 0, (dead, caught)
    assert cli.show(mine)["status"] == "running"
    cli("kill", mine)


def test_nested_job_survives(cli: CLI, state: StateDir, tmp_path: Path) -> None:
    """The README's loop of `jobcore run` launches, itself run as a job."""
    ids = tmp_path / "ids"
    run = f"{shlex.quote(sys.executable)} -m jobcore run -q --"
    loop = f"for i in 1 2 3; do {run} sh -c 'sleep 1.5; echo inner $0' $i >> {ids}; done"
    outer = cli.run("sh", "-c", loop)
    assert cli.wait_status(outer, {"completed", "failed"})["status"] == "completed"
    inner = ids.read_text().split()
    assert len(inner) == 3
    ended = {job_id: cli.wait_status(job_id, {"completed", "failed"}) for job_id in inner}
    completed = [j for j, data in ended.items() if data["status"] == "completed"]
    intact = [j for n, j in enumerate(inner, 1) if f"inner {n}".encode() in read_log(state, j)]
    swept = b"leftover" in read_log(state, outer)
    print(
        f"nested job survives: {len(completed)} of 3 jobs launched from a job completed after "
        f"it ended, {len(intact)} logs intact, outer swept {'some' if swept else 'nothing'}"
    )
    assert len(completed) == len(intact) == 3, ended
    assert not swept


def test_kill_9_of_a_worker_in_a_parallel_1_group(cli: CLI, tmp_path: Path) -> None:
    overlap, started = slot_attack(cli, tmp_path, batch=False)
    print(f"kill -9 of a worker in a parallel-1 group: {overlap:.2f} s of overlap")
    assert started, "the next job never started"
    assert overlap == 0.0
