"""``jobcore rm``: finished jobs go with their folders; an active one only with --force,
which kills it first and leaves no process behind."""

from __future__ import annotations

import psutil

from jobcore.state.paths import StateDir
from tests.conftest import CLI
from tests.reliability.support import marked, wait_gone, workers_of


def test_rm_removes_finished_jobs_and_their_folders(cli: CLI, state: StateDir) -> None:
    a, b = cli.run("true"), cli.run("false")
    for job_id in (a, b):
        cli.wait_status(job_id, {"completed", "failed"})
    proc = cli("rm", a, b)
    assert f"removed {a}" in proc.stderr and f"removed {b}" in proc.stderr
    assert not state.job_dir(a).exists() and not state.job_dir(b).exists()
    assert cli.ls("--all") == []
    assert "removed" in cli("events", a).stdout  # its history stays


def test_rm_refuses_an_active_job_without_force(cli: CLI) -> None:
    job_id = cli.run("sleep", "300")
    cli.wait_command(job_id)
    proc = cli("rm", job_id, check=False)
    assert proc.returncode == 1 and "--force" in proc.stderr and "Traceback" not in proc.stderr
    assert cli.show(job_id)["status"] == "running"
    cli("kill", job_id)


def test_rm_force_of_a_running_job_leaves_no_process(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("sh", "-c", "sleep 300 & sleep 300 & wait")
    data = cli.wait_command(job_id)
    tree = marked(job_id)
    assert len(tree) >= 3
    cli("rm", "--force", job_id)
    assert wait_gone(tree, timeout=5)[1] == []
    assert marked(job_id) == [] and workers_of(job_id) == []
    assert not psutil.pid_exists(data["pid"]) or psutil.Process(data["pid"]).status() == "zombie"
    assert not state.job_dir(job_id).exists()
    assert job_id not in cli("ls", "--all").stdout


def test_rm_force_of_a_queued_job_cancels_then_removes_it(cli: CLI) -> None:
    job_id = cli.run("true", opts=("--delay", "1h"))
    cli("rm", "--force", job_id)
    events = cli("events", job_id).stdout
    assert "cancelled" in events and "removed" in events
    assert workers_of(job_id) == []


def test_rm_all_takes_only_finished_jobs(cli: CLI) -> None:
    done = cli.run("true")
    cli.wait_status(done, {"completed"})
    live = cli.run("sleep", "300")
    cli.wait_command(live)
    proc = cli("rm", "--all")
    assert f"removed {done}" in proc.stderr and live not in proc.stderr
    assert [j["id"] for j in cli.ls("--all")] == [live]
    cli("kill", live)
