"""Housekeeping and audit: events, doctor, secrets, callbacks, config, ownership."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from jobcore.state.store import Store
from tests.conftest import CLI, kill_dispatchers, wait_for
from tests.reliability.support import is_running, marked


def _events(cli: CLI, job_id: str) -> list[tuple[str, str]]:
    return [(e["kind"], e["actor"]) for e in json.loads(cli("events", "--json", job_id).stdout)]


def test_events_record_each_transition_with_its_actor(cli: CLI) -> None:
    job_id = cli.run("sleep", "30")
    cli.wait_status(job_id, {"running"})
    cli("stop", "--grace", "0", job_id)
    cli("resume", job_id)
    cli.wait_status(job_id, {"running"})
    os.kill(cli.show(job_id)["pid"], signal.SIGKILL)
    cli.wait_status(job_id, {"failed"})
    cli("clean")
    assert _events(cli, job_id) == [
        ("created", "user"),
        ("started", "worker"),
        ("paused", "user"),
        ("resumed", "user"),
        ("started", "worker"),
        ("failed", "liveness"),
        ("cleaned", "user"),
    ]
    failed = json.loads(cli("events", "--json", job_id).stdout)[5]
    assert failed["reason"] == "worker died unexpectedly"


def test_secrets_never_reach_the_log_or_the_record(cli: CLI, home: Path) -> None:
    script = (
        'echo "git clone https://alice:hunter2pass@example.com/repo.git"; '
        'echo "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig"; '
        'echo "token ghp_0123456789abcdefghijABCDEFGHIJ012345"; '
        'echo "key $MY_KEY"'
    )
    job_id = cli.run(
        "sh", "-c", script, opts=("--env", "MY_KEY=plain-value-42", "--redact-env", "MY_KEY")
    )
    cli.wait_status(job_id, {"completed"})
    log = (home / "jobs" / job_id / "output.log").read_text()
    for secret in ("hunter2pass", "eyJhbGciOiJIUzI1NiJ9", "0123456789abcdefghij", "plain-value-42"):
        assert secret not in log
    assert "https://alice:***@example.com" in log and "key ***" in log
    record = json.loads((home / "jobs" / job_id / "job.json").read_text())
    assert record["env"] == {"MY_KEY": "***"}
    assert cli.show(job_id)["env"] == {"MY_KEY": "***"}


def test_on_done_runs_once_with_the_job_in_its_environment(cli: CLI, tmp_path: Path) -> None:
    out = tmp_path / "callback.txt"
    callback = (
        f'echo "$JOBCORE_JOB_ID|$JOBCORE_JOB_NAME|$JOBCORE_JOB_STATUS|'
        f'$JOBCORE_JOB_EXIT_CODE|$JOBCORE_JOB_LOG" >> {out}'
    )
    job_id = cli.run("sh", "-c", "exit 4", opts=("--name", "cb", "--on-done", callback))
    cli.wait_status(job_id, {"failed"})
    wait_for(lambda: out.exists() and out.read_text())
    time.sleep(0.3)
    log = cli.show(job_id)["log"]
    assert out.read_text().splitlines() == [f"{job_id}|cb|failed|4|{log}"]


def test_on_done_output_is_logged_masked_and_a_background_child_is_not_waited_for(
    cli: CLI,
) -> None:
    callback = "sleep 300 & echo token https://bob:cb5ecr3t@example.com; exit 3"
    job_id = cli.run("true", opts=("--on-done", callback))

    def callback_event() -> dict[str, str] | None:
        events = json.loads(cli("events", "--json", job_id).stdout)
        return next((e for e in events if e["kind"] == "callback"), None)

    # Well before the 60 s callback timeout: the sleep holding the pipe is not awaited.
    event = wait_for(callback_event, timeout=20)
    assert event["reason"].endswith(": exit code 3") and "cb5ecr3t" not in event["reason"]
    log = cli("logs", job_id).stdout
    assert "token https://bob:***@example.com" in log and "cb5ecr3t" not in log


def test_config_set_get_and_refusals(cli: CLI) -> None:
    cli("config", "set", "grace", "12.5")
    assert cli("config", "get", "grace").stdout.strip() == "12.5"
    cli("config", "set", "redact_env", "A_KEY,B_KEY")
    assert json.loads(cli("config", "ls", "--json").stdout)["redact_env"] == ["A_KEY", "B_KEY"]
    for key, value in [("grace", "-1"), ("keep", "many"), ("nope", "1")]:
        proc = cli("config", "set", key, value, check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
    cli("config", "unset", "grace")
    assert cli("config", "get", "grace").stdout.strip() == "5.0"


def test_config_keep_cleans_after_each_job(cli: CLI) -> None:
    cli("config", "set", "keep", "2")
    ids = [cli.run("true") for _ in range(4)]

    def ended_or_cleaned() -> bool:
        # One listing per check: `keep` may clean a job between two separate reads.
        statuses = {j["id"]: j["status"] for j in cli.ls("--all")}
        return all(statuses.get(job_id, "completed") == "completed" for job_id in ids)

    wait_for(ended_or_cleaned)
    wait_for(lambda: len(cli.ls("--all")) == 2)


def test_a_hand_broken_config_is_reported(cli: CLI, home: Path) -> None:
    cli("ls")
    (home / "config.toml").write_text("grace = 'soon'\n")
    proc = cli("config", "ls", check=False)
    assert proc.returncode == 1 and "bad value for 'grace'" in proc.stderr


def test_doctor_finds_and_fixes_each_kind(cli: CLI, home: Path, store: Store) -> None:
    gone = cli.run("true")
    cli.wait_status(gone, {"completed"})
    shutil.rmtree(home / "jobs" / gone)
    (home / "jobs" / "stray").mkdir()
    os.utime(home / "jobs" / "stray", (time.time() - 600, time.time() - 600))  # not a launch
    (home / ".tmp-old").write_text("x")
    os.utime(home / ".tmp-old", (time.time() - 600, time.time() - 600))
    dead = cli.run("sleep", "30")
    dead_worker = cli.wait_status(dead, {"running"})["pid"]
    finished = cli.run("true")
    cli.wait_status(finished, {"completed"})
    orphan = subprocess.Popen(
        ["sleep", "60"],
        env={**os.environ, "JOBCORE_JOB": f"{os.path.realpath(home)}/jobs/{finished}"},
        start_new_session=True,
    )
    bystander = subprocess.Popen(
        ["sleep", "60"],
        # The same id in another state folder, and the old marker of ours (the id alone).
        env={
            **os.environ,
            "JOBCORE_JOB": f"/elsewhere/jobs/{finished}",
            "JOBCORE_JOB_ID": finished,
            "JOBCORE_HOME": str(home),
        },
    )
    try:
        kill_dispatchers(home)  # it would see the worker die and record it at once
        os.kill(dead_worker, signal.SIGKILL)
        psutil.Process(dead_worker).wait(5) if psutil.pid_exists(dead_worker) else None
        report = cli("doctor", "--json", check=False)
        assert report.returncode == 1
        kinds = {f["kind"] for f in json.loads(report.stdout)}
        assert kinds == {"ghost", "orphan-folder", "temp-file", "dead-worker", "orphan-process"}
        assert orphan.poll() is None  # only reported so far
        fixed = cli("doctor", "--fix", "--json", check=False)
        assert fixed.returncode == 0, fixed.stdout
        assert all(f["fixed"] for f in json.loads(fixed.stdout))
        assert orphan.wait(timeout=5) == -signal.SIGKILL
        assert bystander.poll() is None  # another state folder's process: never touched
        assert cli("doctor", check=False).returncode == 0
        assert (home / "jobs" / gone / "output.log").exists()
        assert not (home / "jobs" / "stray").exists()
        assert cli.show(dead)["status"] == "failed"
    finally:
        for proc in (orphan, bystander):
            proc.kill()
            proc.wait()


def test_doctor_fix_leaves_what_a_live_worker_runs_alone(cli: CLI) -> None:
    """A job's callback runs after the job has ended, under its still-live worker (which
    carries the job's marker too): not an orphan."""
    job_id = cli.run("true", opts=("--on-done", "sleep 30"))
    cli.wait_status(job_id, {"completed"})
    callback = wait_for(
        lambda: [i for i in marked(job_id) if psutil.Process(i[0]).name() == "sleep"], timeout=20
    )
    fixed = cli("doctor", "--fix", "--json", check=False)
    assert "orphan-process" not in {f["kind"] for f in json.loads(fixed.stdout)}
    assert is_running(callback[0])


def test_new_state_folder_is_private(cli: CLI, home: Path) -> None:
    job_id = cli.run("true")
    cli.wait_status(job_id, {"completed"})
    assert home.stat().st_mode & 0o777 == 0o700
    assert (home / "jobcore.db").stat().st_mode & 0o777 == 0o600
    assert (home / "jobs" / job_id / "output.log").stat().st_mode & 0o777 == 0o600


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give the folder to another user")
def test_a_state_folder_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, 65534, 65534)
    proc = subprocess.run(
        [sys.executable, "-m", "jobcore", "--home", str(foreign), "ls"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "belongs to uid 65534" in proc.stderr and "Traceback" not in proc.stderr


def test_long_jobs_send_a_desktop_notification(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "notified.txt"
    fake = bin_dir / "notify-send"
    fake.write_text(f'#!/bin/sh\nprintf "%s|%s\\n" "$1" "$2" >> {record}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    cli("config", "set", "notify_after", "0.2")
    quick = cli.run("true")
    cli.wait_status(quick, {"completed"})
    slow = cli.run("sh", "-c", "sleep 0.5; exit 2", opts=("--name", "nightly"))
    cli.wait_status(slow, {"failed"})
    wait_for(lambda: record.exists())
    time.sleep(0.3)
    assert record.read_text().splitlines() == [
        f"jobcore: job {slow}|nightly failed: exited with code 2"
    ]
