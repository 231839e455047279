"""Help with examples for every subcommand, completion scripts, and colour only when wanted."""

from __future__ import annotations

import argparse
import json
import os
import pty
import subprocess
import sys

import pytest

from jobcore.cli.main import main
from jobcore.cli.parser import build_parser
from tests.conftest import CLI, completions, read_pty

ESC = "\x1b["


def subcommands() -> list[str]:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    return sorted(actions[0].choices)


SUBCOMMANDS = subcommands()


def test_the_core_subcommands_exist() -> None:
    assert {"run", "ls", "show", "logs", "stop", "kill", "resume", "progress", "completion"} <= set(
        SUBCOMMANDS
    )


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_every_subcommand_has_help_with_examples(
    sub: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _help(capsys, sub)
    assert out.startswith(f"usage: jobcore {sub}")
    assert "examples:" in out
    examples = out.split("examples:", 1)[1]
    assert f"jobcore {sub}" in examples, examples  # the examples show this very command
    assert ESC not in out


def test_top_level_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    out = _help(capsys)
    assert "examples:" in out and "completion" in out
    for sub in SUBCOMMANDS:
        assert sub in out


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_prints(cli: CLI, shell: str) -> None:
    proc = cli("completion", shell)
    assert proc.stderr == ""
    assert "jobcore" in proc.stdout and len(proc.stdout) > 200
    if shell == "bash":
        assert "complete " in proc.stdout
        syntax = subprocess.run(["bash", "-n"], input=proc.stdout, text=True, capture_output=True)
        assert syntax.returncode == 0, syntax.stderr


def test_completion_offers_job_ids(cli: CLI, home) -> None:
    job_id = cli.run("true")
    assert job_id in completions(f"jobcore show {job_id[:2]}")


def _on_a_pty(argv: list[str], env: dict[str, str]) -> str:
    """Run with stdout (and stderr) on a pseudo-terminal; what it printed."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env
        )
        os.close(follower)
        follower = -1
        out = read_pty(leader, proc=proc)
        proc.wait(timeout=10)
        return out.decode("utf-8", "replace")
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


def test_colour_only_on_a_terminal_and_never_with_no_color(cli: CLI) -> None:
    done = cli.run("true")
    failed = cli.run("false")
    cli.wait_status(done, {"completed"})
    cli.wait_status(failed, {"failed"})
    base = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    base["TERM"] = "xterm-256color"
    ls = [sys.executable, "-m", "jobcore", "ls"]
    show = [sys.executable, "-m", "jobcore", "show", failed]

    coloured = _on_a_pty(ls, base)
    assert "completed" in coloured and ESC in coloured  # positive control: a tty gets colour

    for argv in (ls, show):
        plain = _on_a_pty(argv, {**base, "NO_COLOR": "1"})
        assert "failed" in plain and ESC not in plain
        piped = subprocess.run(argv, env=base, capture_output=True, text=True, timeout=30)
        assert piped.returncode == 0 and "failed" in piped.stdout
        assert ESC not in piped.stdout and ESC not in piped.stderr

    helped = _on_a_pty(
        [sys.executable, "-m", "jobcore", "run", "--help"], {**base, "NO_COLOR": "1"}
    )
    assert "examples:" in helped and ESC not in helped


def test_json_is_indented_for_a_terminal_and_one_line_for_a_program(cli: CLI) -> None:
    job_id = cli.run("true")
    cli.wait_status(job_id, {"completed"})
    argv = [sys.executable, "-m", "jobcore", "ls", "--json"]
    on_terminal = _on_a_pty(argv, dict(os.environ))
    assert on_terminal.count("\n") > 20 and '\n    "id": ' in on_terminal.replace("\r\n", "\n")
    piped = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
    assert piped.count("\n") == 1
    assert json.loads(piped) == json.loads(on_terminal)
