"""``jobcore restart``: a finished job runs again, as a new job or in place."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from jobcore.state.paths import StateDir
from tests.conftest import CLI


def test_restart_makes_a_new_job_like_the_old_one(
    cli: CLI, state: StateDir, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "ONLY_AT_LAUNCH": "launch-value"}
    old = subprocess.run(
        [
            sys.executable, "-m", "jobcore", "run", "-q", "--name", "greet", "--cwd", str(work),
            "--env", "MODE=full", "--", "sh", "-c", 'echo "$PWD $MODE $ONLY_AT_LAUNCH"',
        ],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    cli.wait_status(old, {"completed"})
    proc = cli("restart", old)  # this shell has no ONLY_AT_LAUNCH
    new = proc.stdout.strip()
    assert new and new != old and f"restarted job {old} as {new}" in proc.stderr
    data = cli.wait_status(new, {"completed"})
    assert (data["name"], data["cwd"], data["env"]) == ("greet", str(work), {"MODE": "full"})
    assert f"{work} full launch-value" in state.log_path(new).read_text()
    assert "restarted" in cli("events", old).stdout


def test_restart_of_a_batch_failed_only(cli: CLI, tmp_path: Path) -> None:
    items = tmp_path / "items.txt"
    items.write_text("ok1\nbad\nok2\n")
    old = cli.run("sh", "-c", 'test "$0" != bad', "{}", opts=("--each", str(items)))
    cli.wait_status(old, {"failed"})
    new = cli("restart", "--failed-only", old).stdout.strip()
    data = cli.wait_status(new, {"failed"})
    assert data["total"] == 1
    every = cli("restart", old).stdout.strip()
    assert cli.wait_status(every, {"failed"})["total"] == 3


def test_restart_in_place_keeps_the_id_and_its_history(cli: CLI, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    job_id = cli.run("sh", "-c", f"test -e '{flag}'")
    cli.wait_status(job_id, {"failed"})
    flag.touch()
    proc = cli("restart", "--in-place", job_id)
    assert proc.stdout == "" and f"restarted job {job_id} in place" in proc.stderr
    data = cli.wait_status(job_id, {"completed"})
    assert data["exit_code"] == 0
    kinds = [e["kind"] for e in json.loads(cli("events", "--json", job_id).stdout)]
    assert kinds.index("failed") < kinds.index("restarted") < kinds.index("completed")
    assert len(cli.ls("--all")) == 1


def test_restart_refuses_an_active_job(cli: CLI) -> None:
    job_id = cli.run("sleep", "300")
    cli.wait_command(job_id)
    proc = cli("restart", job_id, check=False)
    assert proc.returncode == 1 and "only completed, failed or cancelled" in proc.stderr
    cli("kill", job_id)
