"""A job owns exactly its processes: not a same-id job's of another state folder, not a job
launched from inside it, and its group slot stays held while any of its processes runs."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest

from jobcore.ops.launcher import launch
from jobcore.state import store as store_module
from jobcore.state.paths import StateDir, resolve_home
from jobcore.state.store import Store
from tests.conftest import CLI, HomeCLI, wait_for
from tests.reliability.support import Ident, descendants, ident, is_running


def launch_with_id(state: StateDir, job_id: str, command: list[str]) -> str:
    """A real job (worker and all) whose id is forced to ``job_id``, as chance would do it."""
    real = store_module.new_id
    store_module.new_id = lambda: job_id
    try:
        with Store(state) as store:
            return launch(state, store, command).id
    finally:
        store_module.new_id = real


def command_of(cli: CLI, job_id: str) -> Ident:
    return ident(psutil.Process(cli.wait_command(job_id)["command_pid"]))


def test_same_id_in_two_state_folders_never_touch_each_other(cli: CLI, other_home: Path) -> None:
    """Stop, the reconcile of a dead worker and the end-of-run sweep in one state folder leave
    the same-id job of another alone."""
    other, other_state = HomeCLI(other_home), resolve_home(other_home)
    mine = cli.run("sleep", "300")
    my_command = command_of(cli, mine)

    theirs = launch_with_id(other_state, mine, ["sleep", "300"])
    assert theirs == mine
    their_command = command_of(other, theirs)
    other("stop", "--grace", "0", theirs)
    assert not is_running(their_command)
    assert is_running(my_command)

    other("resume", theirs)
    their_worker = other.wait_command(theirs)["pid"]
    os.kill(their_worker, signal.SIGKILL)
    wait_for(lambda: not psutil.pid_exists(their_worker), timeout=10)
    assert other.show(theirs)["error"] == "worker died unexpectedly"  # its leftovers killed
    assert is_running(my_command)

    other("clean")
    launch_with_id(other_state, mine, ["sh", "-c", "sleep 0.5"])
    other.wait_status(theirs, {"completed"})  # its worker swept its leftovers at the end
    assert is_running(my_command)
    assert cli.show(mine)["status"] == "running"
    cli("kill", mine)


def nested(outer_tail: str, inner: str, id_file: Path) -> list[str]:
    """A job command that launches ``inner`` as a job of its own, then runs ``outer_tail``."""
    run = f"{shlex.quote(sys.executable)} -m jobcore run -q -- sh -c {shlex.quote(inner)}"
    return ["sh", "-c", f"{run} > {shlex.quote(str(id_file))}; {outer_tail}"]


@pytest.mark.parametrize("outer_tail", ["echo outer-done", "sleep 3; echo outer-done"])
def test_a_job_launched_from_a_job_outlives_it(
    cli: CLI, state: StateDir, tmp_path: Path, outer_tail: str
) -> None:
    """The inner job ends after the outer one (its leftover sweep), or before it, adopted by
    the outer worker (which reaps it once it has exited): either way it completes."""
    id_file = tmp_path / "inner"
    outer = cli.run(*nested(outer_tail, "sleep 1.5; echo inner-output", id_file))
    assert cli.wait_status(outer, {"completed", "failed"})["status"] == "completed"
    inner = id_file.read_text().strip()
    data = cli.wait_status(inner, {"completed", "failed"})
    assert data["status"] == "completed", data
    assert b"inner-output" in state.log_path(inner).read_bytes()
    assert b"leftover" not in state.log_path(outer).read_bytes()


def test_stopping_the_outer_job_leaves_the_inner_one(
    cli: CLI, state: StateDir, tmp_path: Path
) -> None:
    id_file = tmp_path / "inner"
    outer = cli.run(*nested("sleep 300", "sleep 300", id_file))
    wait_for(lambda: id_file.exists() and id_file.read_text().strip(), timeout=20)
    inner = id_file.read_text().strip()
    inner_command = command_of(cli, inner)
    inner_worker = psutil.Process(cli.show(inner)["pid"])
    assert inner_worker.ppid() == cli.show(outer)["pid"]  # adopted: the outer is a subreaper
    cli("stop", "--grace", "1", outer)
    assert cli.show(outer)["status"] == "paused"
    assert is_running(inner_command)
    assert cli.show(inner)["status"] == "running"
    cli("kill", inner)


def test_a_job_launched_from_a_grouped_job_does_not_hold_its_slot(cli: CLI, tmp_path: Path) -> None:
    """The launching command holds its group slot (inherited); the new job's worker must
    not keep it for as long as the new job runs."""
    cli("group", "add", "one", "--parallel", "1")
    id_file = tmp_path / "inner"
    cli.run(*nested("true", "sleep 300", id_file), opts=("--group", "one"))
    after = cli.run("true", opts=("--group", "one"))
    assert cli.wait_status(after, {"completed", "failed"})["status"] == "completed"
    inner = id_file.read_text().strip()
    assert cli.show(inner)["status"] == "running"
    cli("kill", inner)


def sampled_overlap(first: list[Ident], started: Path, timeout: float = 30) -> tuple[float, bool]:
    """Seconds during which any of ``first`` ran while the file ``started`` existed, sampled
    every 50 ms until those have gone and the file appeared; and whether it appeared."""
    overlap, last = 0.0, time.monotonic()
    deadline = last + timeout
    while time.monotonic() < deadline:
        b_started, a_alive = started.exists(), any(is_running(i) for i in first)
        now = time.monotonic()
        if b_started and a_alive:
            overlap += now - last
        last = now
        if b_started and not a_alive:
            return overlap, True
        time.sleep(0.05)
    return overlap, started.exists()


def slot_attack(cli: CLI, tmp_path: Path, batch: bool) -> tuple[float, bool]:
    """Job A (one ``sleep``, or a batch of two) holds the only slot of a group, job B waits;
    A's worker is killed with SIGKILL. Returns the overlap of A's processes with B's command
    and whether B started."""
    cli("group", "add", "one", "--parallel", "1")
    started = tmp_path / "b-started"
    if batch:
        items = tmp_path / "items"
        items.write_text("300\n301\n")
        opts = ("--group", "one", "--each", str(items), "-j", "2")
        first = cli.run("sleep", opts=opts)
        worker = cli.wait_status(first, {"running"})["pid"]
        wait_for(lambda: len(descendants(worker)) == 2, timeout=20)
    else:
        first = cli.run("sleep", "300", opts=("--group", "one"))
        worker = cli.wait_command(first)["pid"]
    commands = descendants(worker)
    second = cli.run(
        "sh", "-c", f"touch {shlex.quote(str(started))}; sleep 300", opts=("--group", "one")
    )
    wait_for(lambda: cli.show(second)["waiting_on"] == "slot", timeout=20)
    os.kill(worker, signal.SIGKILL)
    try:
        return sampled_overlap(commands, started)
    finally:
        cli("kill", second, check=False)


@pytest.mark.parametrize("batch", [False, True], ids=["command", "batch"])
def test_a_slot_stays_held_while_a_dead_workers_command_runs(
    cli: CLI, tmp_path: Path, batch: bool
) -> None:
    """kill -9 of the worker of a parallel-1 group's running job: the next job starts only
    once what the dead worker left running is gone (killed by the reconcile)."""
    overlap, b_started = slot_attack(cli, tmp_path, batch)
    assert b_started, "the next job never started"
    assert overlap == 0.0
