"""Many jobs per action: several ids, ``--group`` and ``--all`` for stop, kill, resume, retry."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from tests.conftest import CLI, completions, read_pty


def _running(cli: CLI, n: int, *opts: str) -> list[str]:
    ids = [cli.run("sleep", "300", opts=opts) for _ in range(n)]
    for job_id in ids:
        cli.wait_command(job_id)
    return ids


def test_stop_takes_several_ids_and_says_one_line_each(cli: CLI) -> None:
    a, b = _running(cli, 2)
    proc = cli("stop", "--grace", "0", a, b)
    assert f"job {a} is paused" in proc.stderr and f"job {b} is paused" in proc.stderr
    assert {cli.show(a)["status"], cli.show(b)["status"]} == {"paused"}


def test_a_bad_id_among_good_ones_is_one_error_line_and_exit_1(cli: CLI) -> None:
    a, b = _running(cli, 2)
    proc = cli("kill", a, "nosuchjob", b, check=False)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 3, lines
    assert sum("error: no job with id 'nosuchjob'" in line for line in lines) == 1
    assert "Traceback" not in proc.stderr
    assert cli.show(a)["status"] == "failed" and cli.show(b)["status"] == "failed"


def test_kill_all_needs_no_answer_when_stdin_is_not_a_terminal(cli: CLI) -> None:
    a, b = _running(cli, 2)
    done = cli.run("true")
    cli.wait_status(done, {"completed"})
    proc = cli("kill", "--all")
    assert proc.stderr.count("(killed)") == 2, proc.stderr
    assert cli.show(done)["status"] == "completed"
    assert {cli.show(a)["status"], cli.show(b)["status"]} == {"failed"}


def _on_a_terminal(argv: list[str], answer: bytes) -> tuple[int, str]:
    """Run with stdin (and stderr) on a pseudo-terminal, answering its first question."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(argv, stdin=follower, stdout=subprocess.PIPE, stderr=follower)
        os.close(follower)
        follower = -1
        out = read_pty(leader, lambda seen: b"[y/N]" in seen, proc=proc, timeout=30)
        if b"[y/N]" in out:
            os.write(leader, answer)
        out += read_pty(leader, proc=proc, timeout=60)
        return proc.wait(timeout=60), out.decode("utf-8", "replace")
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


def test_kill_all_at_a_terminal_asks_first_and_no_kills_nothing(cli: CLI) -> None:
    (a,) = _running(cli, 1)
    code, out = _on_a_terminal([sys.executable, "-m", "jobcore", "kill", "--all"], b"n\n")
    assert code == 1 and "kill all 1 active job(s)? [y/N]" in out and "nothing killed" in out
    assert cli.show(a)["status"] == "running"
    code, out = _on_a_terminal([sys.executable, "-m", "jobcore", "stop", "--all", "-y"], b"")
    assert code == 0 and "[y/N]" not in out, out
    assert cli.show(a)["status"] == "paused"


def test_resume_all_and_of_a_group(cli: CLI) -> None:
    cli("group", "add", "renders")
    a, b = _running(cli, 2)
    (c,) = _running(cli, 1, "--group", "renders")
    cli("stop", "--grace", "0", "--all")
    proc = cli("resume", "--group", "renders")
    assert proc.stderr.strip() == f"job {c} resumed"
    cli.wait_command(c)
    proc = cli("resume", "--all")
    assert sorted(proc.stderr.strip().splitlines()) == sorted(
        [f"job {a} resumed", f"job {b} resumed"]
    )
    cli("kill", "--all")


def test_retry_takes_several_ids(cli: CLI) -> None:
    a, b = (cli.run("sh", "-c", "exit 3") for _ in range(2))
    for job_id in (a, b):
        cli.wait_status(job_id, {"failed"})
    proc = cli("retry", a, b)
    assert f"retrying the job of job {a}" in proc.stderr
    assert f"retrying the job of job {b}" in proc.stderr


def test_naming_nothing_or_two_ways_is_a_usage_error(cli: CLI) -> None:
    for argv in (["stop"], ["kill", "--all", "abc"], ["resume", "--group", "g", "--all"]):
        proc = cli(*argv, check=False)
        assert proc.returncode == 2 and "one of the three" in proc.stderr, proc.stderr


def test_completion_offers_only_the_ids_a_verb_applies_to(cli: CLI) -> None:
    (running,) = _running(cli, 1)
    done = cli.run("true")
    cli.wait_status(done, {"completed"})
    assert running in completions("jobcore stop ")
    assert done not in completions("jobcore stop ")
    assert done in completions("jobcore restart ")
    assert running not in completions("jobcore rm ")
    for verb in ("rm", "restart", "edit"):
        assert verb in completions(f"jobcore {verb[:2]}")
    cli("kill", running)
