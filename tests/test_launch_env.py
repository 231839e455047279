"""Resume and retry run with the environment the job was launched with (``--env-now``: the
resumer's), whoever resumes it: another terminal, cron, the dashboard."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from jobcore.state.paths import StateDir
from tests.conftest import CLI, wait_for
from tests.conftest import run_cli_in as jobcore

# The probe prints what it sees; its first run waits to be stopped, later runs end at once.
PROBE = """#!/bin/sh
echo "run FOO=$FOO"
if [ -f "$1.ran" ]; then exit "${2:-0}"; fi
touch "$1.ran"
exec sleep 300
"""


@pytest.fixture
def envs(tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The launching shell (FOO=launch, a private bin folder on PATH) and another one."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    probe = bindir / "jc-probe"
    probe.write_text(PROBE)
    probe.chmod(probe.stat().st_mode | stat.S_IXUSR)
    launch = {**os.environ, "FOO": "launch", "PATH": f"{bindir}:{os.environ['PATH']}"}
    other = {**os.environ, "FOO": "other"}
    return launch, other


def runs(cli: CLI, job_id: str) -> list[str]:
    return [line for line in cli("logs", job_id).stdout.splitlines() if "FOO=" in line]


def test_resume_uses_the_launch_environment(cli: CLI, envs, tmp_path: Path) -> None:
    launch, other = envs
    job_id = jobcore(launch, "run", "-q", "--", "jc-probe", str(tmp_path / "one")).stdout.strip()
    wait_for(lambda: runs(cli, job_id) == ["run FOO=launch"])
    cli.wait_command(job_id)
    jobcore(other, "stop", "--grace", "1", job_id)

    jobcore(other, "resume", job_id)  # jc-probe is not even on this PATH
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert data["status"] == "completed", data
    assert runs(cli, job_id) == ["run FOO=launch", "run FOO=launch"]


def test_env_now_takes_the_resumers_environment_and_keeps_it(
    cli: CLI, envs, tmp_path: Path
) -> None:
    launch, other = envs
    job_id = jobcore(
        launch, "run", "-q", "--", "jc-probe", str(tmp_path / "two"), "3"
    ).stdout.strip()
    cli.wait_command(job_id)
    jobcore(other, "stop", "--grace", "1", job_id)
    now = {**other, "PATH": launch["PATH"]}
    jobcore(now, "resume", "--env-now", job_id)
    assert cli.wait_status(job_id, {"completed", "failed"})["status"] == "failed"
    # From then on the job's environment is the one taken with --env-now.
    jobcore(launch, "retry", job_id)
    cli.wait_status(job_id, {"completed", "failed"})
    assert runs(cli, job_id) == ["run FOO=launch", "run FOO=other", "run FOO=other"]
    jobcore({**launch, "FOO": "third"}, "retry", "--env-now", job_id)
    cli.wait_status(job_id, {"completed", "failed"})
    assert runs(cli, job_id)[-1] == "run FOO=third"


def test_retry_uses_the_launch_environment(cli: CLI, envs, tmp_path: Path) -> None:
    launch, other = envs
    (tmp_path / "three.ran").touch()
    job_id = jobcore(
        launch, "run", "-q", "--", "jc-probe", str(tmp_path / "three"), "1"
    ).stdout.strip()
    assert cli.wait_status(job_id, {"completed", "failed"})["status"] == "failed"
    jobcore(other, "retry", job_id)
    cli.wait_status(job_id, {"completed", "failed"})
    assert runs(cli, job_id) == ["run FOO=launch", "run FOO=launch"]


def test_a_batch_resumed_after_a_stop_keeps_its_environment(cli: CLI, envs, tmp_path: Path) -> None:
    launch, other = envs
    items = tmp_path / "items.txt"
    items.write_text(f"{tmp_path / 'a'}\n{tmp_path / 'b'}\n")
    (tmp_path / "b.ran").touch()  # only the first item waits to be stopped
    job_id = jobcore(
        launch, "run", "-q", "--each", str(items), "--", "jc-probe", "{}"
    ).stdout.strip()
    wait_for(lambda: runs(cli, job_id))
    jobcore(other, "stop", "--grace", "1", job_id)
    jobcore(other, "resume", job_id)
    assert cli.wait_status(job_id, {"completed", "failed"})["status"] == "completed"
    seen = runs(cli, job_id)
    assert len(seen) == 3 and all(line.endswith("run FOO=launch") for line in seen), seen


def test_a_python_batch_resumed_from_elsewhere_keeps_its_environment(
    cli: CLI, envs, tmp_path: Path
) -> None:
    launch, other = envs
    record = tmp_path / "record.txt"
    items = tmp_path / "items.txt"
    items.write_text("1\n2\n3\n4\n")
    target = "tests.examples.batchfuncs:record_env"
    repo = str(Path(__file__).resolve().parent.parent)
    launch = {**launch, "RECORD": str(record), "PAUSE_S": "0"}
    job_id = jobcore(
        launch, "run", "-q", "--cwd", repo, "--each", str(items), "--call", target
    ).stdout.strip()
    wait_for(lambda: cli.show(job_id)["status"] == "paused")
    jobcore({**other, "RECORD": str(tmp_path / "elsewhere.txt")}, "resume", job_id)
    assert cli.wait_status(job_id, {"completed", "failed"})["status"] == "completed"
    assert sorted(record.read_text().split()) == ["1=launch", "2=launch", "3=launch", "4=launch"]


def test_the_launch_environment_is_private_and_never_shown(cli: CLI, envs, state: StateDir) -> None:
    launch, _ = envs
    launch = {**launch, "API_TOKEN": "zq8Lm3Tok9Secret"}
    job_id = jobcore(launch, "run", "-q", "--", "true").stdout.strip()
    cli.wait_status(job_id, {"completed"})
    path = state.job_dir(job_id) / "env"
    assert stat.S_IMODE(path.lstat().st_mode) == 0o600
    assert "zq8Lm3Tok9Secret" in path.read_text()
    assert "JOBCORE_JOB_ID" not in path.read_text()
    for args in (("show", job_id), ("show", "--json", job_id), ("ls", "--json")):
        assert "zq8Lm3Tok9Secret" not in cli(*args).stdout
    cli("clean")
    assert not path.exists()


def test_a_symlinked_environment_file_is_refused(cli: CLI, envs, state: StateDir) -> None:
    launch, other = envs
    job_id = jobcore(launch, "run", "-q", "--", "false").stdout.strip()
    cli.wait_status(job_id, {"failed"})
    path = state.job_dir(job_id) / "env"
    elsewhere = path.with_name("elsewhere")
    path.rename(elsewhere)
    path.symlink_to(elsewhere)
    jobcore(other, "retry", job_id)
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert data["status"] == "failed"
    assert "env: it is a symlink" in data["reason"], data
