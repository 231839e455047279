"""Without a terminal on stdout the dashboard says so and exits; the demo prints its jobs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from jobcore.state.paths import StateDir


def test_jobtui_with_stdout_to_a_file_exits_with_one_line(state: StateDir, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    with open(out, "w") as stdout:
        proc = subprocess.run(
            [sys.executable, "-m", "jobtui", "--home", str(state.root)],
            stdout=stdout,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=30,
        )
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "not a terminal" in proc.stderr, proc.stderr
    assert proc.stderr.startswith("jobtui: error: ")
    assert out.read_text() == ""


def test_the_demo_without_a_terminal_prints_its_jobs_and_exits_0(state: StateDir) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "jobtui.demo", "--home", str(state.root)],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "convert-audio" in proc.stdout and "STATUS" in proc.stdout
