"""jobcore run: launch, output in the log, final status, detachment."""

from __future__ import annotations

import os

import psutil

from tests.conftest import CLI


def test_run_prints_only_the_id_and_completes(cli: CLI) -> None:
    proc = cli("run", "--", "sh", "-c", "echo out; echo err >&2")
    job_id = proc.stdout.strip()
    assert job_id and "\n" not in job_id and len(job_id) == 5
    assert job_id in proc.stderr  # the human hint goes to stderr
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert data["status"] == "completed"
    assert data["exit_code"] == 0
    assert data["started_at"] and data["finished_at"]
    assert cli("logs", job_id).stdout.splitlines() == ["out", "err"]


def test_failing_command_fails_with_reason(cli: CLI) -> None:
    job_id = cli.run("sh", "-c", "exit 3")
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert data["status"] == "failed"
    assert data["exit_code"] == 3
    assert data["error"] == "exited with code 3"


def test_killed_by_signal_is_failed(cli: CLI) -> None:
    job_id = cli.run("sh", "-c", "kill -KILL $$")
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert data["error"] == "killed by SIGKILL"


def test_job_gets_its_id_home_env_and_cwd(cli: CLI, tmp_path) -> None:
    job_id = cli.run(
        "sh",
        "-c",
        'echo "$JOBCORE_JOB_ID $JOBCORE_HOME $GREETING $(pwd)"',
        opts=("--cwd", str(tmp_path), "--env", "GREETING=hi there", "--name", "env-check"),
    )
    cli.wait_status(job_id, {"completed"})
    line = cli("logs", job_id).stdout.strip()
    assert line == f"{job_id} {cli.home} hi there {tmp_path}"
    data = cli.show(job_id)
    assert data["name"] == "env-check"
    assert data["env"] == {"GREETING": "hi there"}


def test_worker_runs_in_its_own_session(cli: CLI) -> None:
    job_id = cli.run("sleep", "30")
    data = cli.wait_command(job_id)
    worker = psutil.Process(data["pid"])
    assert os.getsid(worker.pid) == worker.pid != os.getsid(0)
    command = psutil.Process(data["command_pid"])
    assert command.ppid() == worker.pid
    cli("kill", job_id)


def test_arguments_are_passed_as_argv_not_through_a_shell(cli: CLI, tmp_path) -> None:
    odd = 'it\'s a "quoted" $HOME; `rm -rf /` ü 日本'
    job_id = cli.run("printf", "%s\n", odd)
    cli.wait_status(job_id, {"completed"})
    assert cli("logs", job_id).stdout == odd + "\n"
