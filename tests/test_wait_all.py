"""``jobcore wait --all``: until nothing runs or waits, jobs queued meanwhile included, and
on exit which jobs did not complete and why."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import CLI


def _gated(cli: CLI, gate: Path, code: int = 0) -> str:
    """A job that runs until ``gate`` exists, then exits with ``code``."""
    return cli.run("sh", "-c", f"while [ ! -e '{gate}' ]; do sleep 0.05; done; exit {code}")


def test_wait_all_waits_for_a_job_queued_after_it_started(cli: CLI, tmp_path: Path) -> None:
    first = _gated(cli, tmp_path / "first")
    waiter = subprocess.Popen(
        [sys.executable, "-m", "jobcore", "wait", "--all"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert waiter.stderr is not None
        assert "waiting for 1 job(s)" in waiter.stderr.readline()  # its first look is taken
        late = _gated(cli, tmp_path / "late", code=3)
        (tmp_path / "first").touch()
        cli.wait_status(first, {"completed"})
        (tmp_path / "late").touch()
        code = waiter.wait(timeout=60)
        err = waiter.stderr.read()
    finally:
        waiter.kill()
    assert code == 1, err
    assert f"job {late} did not complete: failed (exited with code 3)" in err
    assert first not in err


def test_wait_quiet_says_nothing(cli: CLI) -> None:
    bad = cli.run("false")
    proc = cli("wait", "--quiet", bad, check=False)
    assert proc.returncode == 1 and proc.stderr == ""
    proc = cli("wait", bad, check=False)
    assert proc.returncode == 1 and f"job {bad} did not complete: failed" in proc.stderr


def test_wait_timeout_names_the_jobs_still_running(cli: CLI, tmp_path: Path) -> None:
    slow = _gated(cli, tmp_path / "never")
    proc = cli("wait", "--all", "--timeout", "0.3", check=False)
    assert proc.returncode == 124
    assert f"job {slow} is still " in proc.stderr
    cli("kill", slow)
