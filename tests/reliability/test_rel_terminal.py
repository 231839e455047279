"""A terminal closed under a running job (tmux kill-session): the job still completes."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CLI, wait_for

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def _tmux(socket: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("when", ["launcher-exited", "shell-busy"])
def test_terminal_closed_under_a_running_job(
    cli: CLI, home: Path, tmp_path: Path, when: str
) -> None:
    socket = f"jobcore-test-{tmp_path.name}-{when}"[:90]
    id_file = tmp_path / "id"
    # The job prints before and after the terminal goes away; its output goes to the log.
    job = "for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.25; done; echo finished"
    run = (
        f"JOBCORE_HOME={shlex.quote(str(home))} {shlex.quote(sys.executable)} -m jobcore run -q "
        f"-- sh -c {shlex.quote(job)} > {shlex.quote(str(id_file))}"
    )
    # "shell-busy": the shell is still busy (sleep) when the terminal closes.
    shell = f"{run}; sleep 300" if when == "launcher-exited" else f"{run} & sleep 300"
    try:
        proc = _tmux(socket, "new-session", "-d", "-x", "80", "-y", "24", shell)
        assert proc.returncode == 0, proc.stderr
        job_id = wait_for(lambda: id_file.exists() and id_file.read_text().strip(), timeout=20)
        data = cli.wait_status(job_id, {"running", "completed"})
        killed_at = time.monotonic()
        assert _tmux(socket, "kill-session").returncode == 0
        data = cli.wait_status(job_id, {"completed", "failed", "paused"}, timeout=30)
        took = time.monotonic() - killed_at
    finally:
        _tmux(socket, "kill-server")
    print(f"tmux kill-session ({when}): job {data['status']} {took:.2f}s after the terminal closed")
    assert data["status"] == "completed", data
    log = cli("logs", "-n", "100", job_id).stdout.splitlines()
    assert log == [f"tick {i}" for i in range(1, 7)] + ["finished"]
