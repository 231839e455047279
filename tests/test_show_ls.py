"""``show`` and ``ls`` say what users ask: group, line, waits, reasons, hidden jobs."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from tests.conftest import CLI, read_pty, wait_for


def _fields(text: str) -> dict[str, str]:
    return {line[:12].strip(): line[14:] for line in text.splitlines() if line[:12].strip()}


def test_show_has_group_priority_line_and_what_it_waits_for(cli: CLI) -> None:
    cli("group", "add", "gate", "--parallel", "1")
    blocker = cli.run("sleep", "300", opts=("--group", "gate"))
    cli.wait_command(blocker)
    low = cli.run("true", opts=("--group", "gate"))
    high = cli.run("true", opts=("--group", "gate", "--priority", "3", "--after", blocker))
    wait_for(lambda: cli.show(low)["waiting_on"] == "slot")
    shown = _fields(cli("show", high).stdout)
    assert shown["group"] == "gate" and shown["priority"] == "3"
    assert shown["in line"] == "#1" and shown["after"] == f"{blocker} (running)"
    assert shown["waits for"] == f"waiting for {blocker}"
    assert _fields(cli("show", low).stdout)["in line"] == "#2"
    assert cli.show(low)["position"] == 2
    held = cli.run("true", opts=("--group", "gate", "--priority", "9", "--hold"))
    assert cli.show(held)["position"] is None  # held: out of line until released
    assert cli.show(low)["position"] == 2  # and not ahead of anyone
    cli("start", low)  # to the head of the line
    assert (cli.show(low)["position"], cli.show(high)["position"]) == (1, 2)
    started = _fields(cli("show", blocker).stdout)["started"]
    assert len(started) == 8 and started.count(":") == 2  # today: the clock alone
    cli("kill", "--all")


def test_ls_has_a_reason_column_and_a_one_line_command(cli: CLI) -> None:
    job_id = cli.run("sh", "-c", "echo one\necho two\nexit 3")
    cli.wait_status(job_id, {"failed"})
    out = cli("ls").stdout
    header, row = out.splitlines()[:2]
    assert header.split() == [
        "ID", "NAME", "STATUS", "PROGRESS", "RATE", "ETA", "ELAPSED", "REASON", "COMMAND"
    ]  # fmt: skip
    assert "exited with code 3" in row and "echo one ⏎ echo two ⏎ exit 3" in row
    assert header.index("REASON") < header.index("COMMAND")


def test_ls_on_a_narrow_terminal_cuts_the_command_not_the_reason(cli: CLI) -> None:
    job_id = cli.run("sh", "-c", "echo " + "x" * 200 + "; exit 3")
    cli.wait_status(job_id, {"failed"})
    leader, follower = pty.openpty()
    try:
        os.set_blocking(leader, True)
        env = {**os.environ, "COLUMNS": "100", "LINES": "20"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobcore", "ls"],
            stdout=follower, stderr=follower, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        os.close(follower)
        follower = -1
        out = read_pty(leader, proc=proc).decode()
        proc.wait(timeout=30)
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    lines = [line for line in out.replace("\r", "").splitlines() if job_id in line]
    assert lines and all(len(line) <= 100 for line in lines), lines
    assert "exited with code 3" in lines[0] and lines[0].endswith("…")


def test_ls_says_how_many_older_jobs_it_hides(cli: CLI) -> None:
    ids = [cli.run("true") for _ in range(22)]
    for job_id in ids:
        cli.wait_status(job_id, {"completed"})
    proc = cli("ls")
    assert "2 older jobs hidden (-a)" in proc.stderr
    assert "hidden" not in cli("ls", "-a").stderr


def test_ls_group_and_the_group_column(cli: CLI) -> None:
    plain = cli.run("true")
    assert "GROUP" not in cli("ls").stdout  # only the default group: no column
    cli("group", "add", "renders")
    grouped = cli.run("true", opts=("--group", "renders"))
    out = cli("ls").stdout
    assert out.splitlines()[0].split()[:2] == ["ID", "GROUP"]
    assert [j["id"] for j in cli.ls("--group", "renders")] == [grouped]
    assert plain not in cli("ls", "--group", "renders").stdout
    proc = cli("ls", "--group", "nosuch", check=False)
    assert proc.returncode == 1 and "no group 'nosuch'" in proc.stderr


def test_group_rm_is_refused_while_it_has_active_jobs(cli: CLI) -> None:
    cli("group", "add", "renders")
    job_id = cli.run("sleep", "300", opts=("--group", "renders"))
    cli.wait_command(job_id)
    proc = cli("group", "rm", "renders", check=False)
    assert proc.returncode == 1 and "1 queued, running or paused" in proc.stderr
    cli("kill", job_id)
    cli("group", "rm", "renders")
    assert "renders" not in cli("group", "ls").stdout
    proc = cli("group", "rm", "default", check=False)
    assert proc.returncode == 1 and "cannot be removed" in proc.stderr
