"""jobcore kill, and a worker killed with SIGKILL behind jobcore's back."""

from __future__ import annotations

import os
import signal
import time

import psutil

from jobcore.state.paths import StateDir
from tests.conftest import CLI, wait_for
from tests.reliability.support import descendants, marked, wait_gone
from tests.test_stop import start_hard_tree


def test_kill_leaves_nothing_and_fails_the_job(cli: CLI, state: StateDir) -> None:
    job_id, data = start_hard_tree(cli, state)
    tree = descendants(data["pid"])
    started = time.monotonic()
    proc = cli("kill", job_id)
    took = time.monotonic() - started
    _, survivors = wait_gone(tree, timeout=3)
    print(f"kill: {len(tree)} descendants, command returned after {took:.2f}s")
    assert survivors == []
    assert marked(job_id) == []
    assert f"job {job_id} is failed (killed)" in proc.stderr
    data = cli.show(job_id)
    assert data["status"] == "failed" and data["error"] == "killed"
    assert not psutil.pid_exists(data["pid"]) or psutil.Process(data["pid"]).status() == "zombie"
    assert took < 8.0  # no grace period for kill (generous for a loaded machine)


def test_kill_of_a_finished_job_is_refused(cli: CLI) -> None:
    job_id = cli.run("sh", "-c", "exit 4")
    cli.wait_status(job_id, {"failed"})
    proc = cli("kill", job_id, check=False)
    assert proc.returncode == 1
    assert "nothing to stop" in proc.stderr and "Traceback" not in proc.stderr
    assert cli.show(job_id)["error"] == "exited with code 4"  # not rewritten to "killed"


def test_sigkill_of_the_worker_is_reported_on_the_next_ls(cli: CLI) -> None:
    job_id = cli.run("sh", "-c", "echo started; sleep 300")
    data = cli.wait_command(job_id)
    os.kill(data["pid"], signal.SIGKILL)
    wait_for(lambda: not psutil.pid_exists(data["pid"]), timeout=10)
    orphans = marked(job_id)
    assert orphans  # the command outlives its worker...
    jobs = {j["id"]: j for j in cli.ls()}
    assert jobs[job_id]["status"] == "failed"
    assert jobs[job_id]["error"] == "worker died unexpectedly"
    assert jobs[job_id]["finished_at"] is not None
    # ...until the death is noticed: a "failed" job must not go on running.
    assert wait_gone(orphans, timeout=3)[1] == []
    # It stays failed (the record is written, not recomputed).
    assert cli.show(job_id)["error"] == "worker died unexpectedly"
    assert "failed" in cli("ls").stdout


def test_resume_after_a_worker_sigkill_runs_one_copy(cli: CLI) -> None:
    """Regression: reconcile failed the job but left its command running, so a resume ran
    the command twice at once."""
    job_id = cli.run("sleep", "300")
    data = cli.wait_command(job_id)
    os.kill(data["pid"], signal.SIGKILL)
    wait_for(lambda: not psutil.pid_exists(data["pid"]), timeout=10)
    cli("resume", job_id)
    data = cli.wait_command(job_id)
    commands = [i for i in marked(job_id) if psutil.Process(i[0]).name() == "sleep"]
    assert len(commands) == 1, commands
    assert commands[0][0] == data["command_pid"]
    cli("kill", job_id)


def test_sigkill_of_the_command_alone_fails_the_job_with_the_signal(cli: CLI) -> None:
    job_id = cli.run("sleep", "300")
    data = cli.wait_command(job_id)
    os.kill(data["command_pid"], signal.SIGKILL)
    data = cli.wait_status(job_id, {"failed", "completed"})
    assert data["error"] == "killed by SIGKILL" and data["exit_code"] == -9
