"""jobcore resume: paused -> running -> completed; refusals; two resumes at once."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil

from jobcore.state.paths import StateDir
from tests.conftest import CLI, wait_for
from tests.reliability.support import marked, workers_of

# First run: leaves a marker and waits to be stopped. Second run: sees it and completes.
TWO_PHASE = (
    "if [ -f marker ]; then echo second run; exit 0; fi; touch marker; echo first run; sleep 300"
)


def test_stop_pause_resume_complete(cli: CLI, state: StateDir, tmp_path: Path) -> None:
    job_id = cli.run("sh", "-c", TWO_PHASE, opts=("--cwd", str(tmp_path)))
    first = cli.wait_status(job_id, {"running"})
    wait_for(lambda: (tmp_path / "marker").exists())
    cli("stop", "--grace", "2", job_id)
    paused = cli.show(job_id)
    assert paused["status"] == "paused" and paused["reason"] == "stopped by user"
    assert paused["finished_at"] is not None
    assert cli("ls", "--status", "paused", "--json").stdout.count(job_id) == 1

    proc = cli("resume", job_id)
    assert f"job {job_id} resumed" in proc.stderr
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert data["status"] == "completed" and data["exit_code"] == 0
    assert data["error"] is None and data["reason"] is None
    assert data["pid"] != first["pid"]  # a new worker
    log = cli("logs", job_id).stdout.splitlines()
    assert log[0] == "first run" and log[-1] == "second run"
    assert any(line.startswith("--- jobcore: resumed at ") for line in log)


def test_resume_of_running_and_completed_is_refused(cli: CLI) -> None:
    running = cli.run("sleep", "300")
    cli.wait_status(running, {"running"})
    proc = cli("resume", running, check=False)
    assert proc.returncode == 1
    assert proc.stderr == f"jobcore: error: job {running} is already running\n"
    assert len(workers_of(running)) == 1

    done = cli.run("true")
    cli.wait_status(done, {"completed"})
    proc = cli("resume", done, check=False)
    assert proc.returncode == 1
    assert proc.stderr == (
        f"jobcore: error: job {done} has completed; there is nothing to resume\n"
    )
    assert cli.show(done)["status"] == "completed"
    cli("kill", running)


def test_resume_of_a_failed_job_runs_it_again(cli: CLI, tmp_path: Path) -> None:
    job_id = cli.run(
        "sh",
        "-c",
        "if [ -f again ]; then exit 0; fi; touch again; exit 5",
        opts=("--cwd", str(tmp_path)),
    )
    assert cli.wait_status(job_id, {"failed"})["exit_code"] == 5
    cli("resume", job_id)
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert data["status"] == "completed" and data["exit_code"] == 0


def _resume_twice_at_once(job_id: str) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "jobcore", "resume", job_id],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def test_two_resumes_at_once_start_exactly_one_worker(cli: CLI) -> None:
    job_id = cli.run("sleep", "300")
    rounds = 2
    for _ in range(rounds):
        cli.wait_status(job_id, {"running"})
        cli("stop", "--grace", "2", job_id)
        assert cli.show(job_id)["status"] == "paused"
        results = _resume_twice_at_once(job_id)
        codes = sorted(r.returncode for r in results)
        assert codes == [0, 1], [r.stderr for r in results]
        loser = next(r for r in results if r.returncode == 1)
        assert "is already" in loser.stderr and "Traceback" not in loser.stderr
        data = cli.wait_command(job_id)
        time.sleep(0.3)  # a second worker, if any, would have started by now
        workers = workers_of(job_id)
        assert [w.pid for w in workers] == [data["pid"]]
        commands = [i for i in marked(job_id) if psutil.Process(i[0]).name() == "sleep"]
        assert [pid for pid, _ in commands] == [data["command_pid"]]
    cli("kill", job_id)
