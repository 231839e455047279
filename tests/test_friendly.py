"""Friendly mistakes: one line that says what to do instead."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import CLI


def _one_line(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_unknown_verb_is_one_line_with_did_you_mean(cli: CLI) -> None:
    _one_line(cli("stpo", "abc", check=False), 2, "unknown command 'stpo'", "did you mean stop")


def test_pueues_verbs_are_aliases(cli: CLI) -> None:
    job_id = cli("add", "-q", "--", "sh", "-c", "echo hello").stdout.strip()
    cli.wait_status(job_id, {"completed"})
    assert job_id in cli("status").stdout
    assert "hello" in cli("log", job_id).stdout
    assert "hello" in cli("follow", job_id).stdout  # ended: follow prints and returns
    running = cli.run("sleep", "300")
    cli.wait_command(running)
    cli("pause", running)
    assert cli.show(running)["status"] == "paused"
    cli("remove", job_id, running)
    assert cli.ls("--all") == []


def test_one_argument_with_spaces_hints_at_sh_c(cli: CLI) -> None:
    proc = cli("run", "--", "sleep 5 && echo hi", check=False)
    _one_line(proc, 1, "one argument with spaces", "sh -c 'sleep 5 && echo hi'")
    assert cli.ls("--all") == []


def test_a_program_that_is_not_executable_says_so(cli: CLI, tmp_path: Path) -> None:
    script = tmp_path / "build.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    proc = cli("run", "--cwd", str(tmp_path), "--", "./build.sh", check=False)
    _one_line(proc, 1, "build.sh is not executable")


def test_launching_from_a_deleted_directory_says_use_cwd(home: Path, tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    script = f'cd "{gone}" && rmdir "{gone}" && exec "$0" -m jobcore run -- true'
    proc = subprocess.run(
        ["sh", "-c", script, sys.executable], capture_output=True, text=True, timeout=60
    )
    _one_line(proc, 1, "the current directory no longer exists; use --cwd")


def test_resume_of_a_job_whose_cwd_is_gone_is_refused_first(cli: CLI, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    job_id = cli.run("sleep", "300", opts=("--cwd", str(work)))
    cli.wait_command(job_id)
    cli("stop", "--grace", "0", job_id)
    work.rmdir()
    proc = cli("resume", job_id, check=False)
    _one_line(proc, 1, "cwd", "no longer exists")
    assert "resumed" not in proc.stderr
    assert cli.show(job_id)["status"] == "paused"


def test_version(cli: CLI) -> None:
    assert cli("--version").stdout.startswith("jobcore ")
    proc = subprocess.run(
        [sys.executable, "-m", "jobtui", "--version"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout.startswith("jobtui ")
