"""Escape sequences in a job's output: the log keeps them, screens show only the colours."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from jobcore.view.screen_text import fit, plain_text, screen_text, split_unfinished
from tests.conftest import CLI, read_pty

HOSTILE = r"\033[2J\033]0;pwned\007\033[31mred\033[0m"
"""Clear the screen, rename the window (or tmux pane), then a word in red."""
WRITTEN = b"\x1b[2J\x1b]0;pwned\x07\x1b[31mred\x1b[0m"


def _on_a_terminal(*args: str) -> bytes:
    """What ``jobcore ARGS`` shows on a terminal (a pseudo-terminal's other side)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobcore", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    try:
        out = read_pty(leader, proc=proc)
        assert proc.wait(timeout=30) == 0, out
    finally:
        proc.kill()
        os.close(leader)
    return out


@pytest.fixture
def hostile_job(cli: CLI) -> str:
    job_id = cli.run("printf", HOSTILE)
    cli.wait_status(job_id, {"completed"})
    return job_id


@pytest.mark.parametrize("verb", [("logs",), ("logs", "-f"), ("attach",)])
def test_a_terminal_gets_the_colour_but_not_the_clear_or_the_title(
    hostile_job: str, verb: tuple[str, ...]
) -> None:
    shown = _on_a_terminal(*verb, hostile_job)
    assert b"\x1b[31mred\x1b[0m" in shown
    assert b"\x1b[2J" not in shown
    assert b"pwned" not in shown and b"\x1b]" not in shown and b"\x07" not in shown


def test_logs_raw_prints_the_bytes_the_command_wrote(cli: CLI, hostile_job: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "jobcore", "logs", "--raw", hostile_job],
        capture_output=True,
        check=True,
    )
    assert proc.stdout == WRITTEN + b"\n"  # the line as written, ended by the log
    on_a_terminal = _on_a_terminal("logs", "--raw", hostile_job)
    assert WRITTEN in on_a_terminal


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[1;32mok\x1b[m plain", "\x1b[1;32mok\x1b[m plain"),  # SGR stays
        ("a\tb\n", "a\tb\n"),
        ("\x1b[2J\x1b[H\x1b[3A\x1b[10;20H\x1b[K\x1b[?25l", ""),  # clear, cursor, modes
        ("\x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\", "link"),  # OSC ended by ST
        ("\x1bPq#0;2;0;0;0\x1b\\x", "x"),  # DCS (sixel)
        ("\x1bc\x1b(B\x1bM", ""),  # reset, charset, reverse index
        ("bell\x07 back\x08 cr\r del\x7f c1\x9b31m", "bell back cr del c131m"),
        ("cut \x1b[31", "cut [31"),  # an unfinished SGR is text, its ESC is not
    ],
)
def test_screen_text_keeps_colours_and_drops_every_other_control(text: str, shown: str) -> None:
    assert screen_text(text) == shown
    assert "\x1b" not in plain_text(text)


def test_a_reader_holds_an_escape_cut_by_the_end_of_a_read() -> None:
    assert split_unfinished(b"red: \x1b[3") == (b"red: ", b"\x1b[3")
    assert split_unfinished(b"title \x1b]0;na") == (b"title ", b"\x1b]0;na")
    assert split_unfinished(b"done \x1b[0m") == (b"done \x1b[0m", b"")


def test_a_line_cut_to_the_width_keeps_whole_colours_and_resets_them() -> None:
    assert fit("\x1b[31mred bar\x1b[0m 50%", 5) == "\x1b[31mred b\x1b[0m\x1b[0m"
    assert fit("plain text", 5) == "plain"
