"""jobcore logs: tails from the end, odd bytes, follow until the end (or the worker's death),
and private files."""

from __future__ import annotations

import os
import pty
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobcore.state import logs
from jobcore.state.logs import Follower, tail
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from tests.conftest import CLI, read_pty, wait_for
from tests.reliability.support import fake_running, foreign_process, job_by_hand, real_start
from tests.rows import set_row


def _logs(home: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "jobcore", "logs", *args],
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_invalid_utf8_is_shown_as_replacement_characters(cli: CLI, home: Path) -> None:
    job_id = cli.run("printf", "ok \\377\\376 caf\\303\\251 \\303\\n")
    cli.wait_status(job_id, {"completed"})
    proc = _logs(home, job_id)
    assert proc.returncode == 0 and proc.stderr == b""
    assert proc.stdout.decode("utf-8") == "ok \ufffd\ufffd café \ufffd\n"
    follow = _logs(home, "-f", job_id)
    assert follow.returncode == 0 and follow.stdout == proc.stdout


def test_last_n_of_many_lines_and_a_missing_final_newline(
    cli: CLI, state: StateDir, store: Store
) -> None:
    many = job_by_hand(state, store, ["true"])
    lines = [f"line {i} " + "x" * (i % 50) for i in range(200_000)]  # ~9 MB, many blocks
    state.log_path(many.id).write_text("\n".join(lines) + "\n")
    assert cli("logs", "-n", "3", many.id).stdout.splitlines() == lines[-3:]
    assert cli("logs", "-n", "1", many.id).stdout == lines[-1] + "\n"
    assert cli("logs", "-n", "0", many.id).stdout == ""
    assert cli("logs", many.id).stdout.splitlines() == lines[-50:]  # default 50
    big = cli("logs", "-n", "150000", many.id).stdout.splitlines()
    assert big == lines[-150_000:]

    partial = job_by_hand(state, store, ["true"])
    state.log_path(partial.id).write_bytes(b"a\nb\nlast without newline")
    assert cli("logs", partial.id).stdout == "a\nb\nlast without newline\n"
    assert cli("logs", "-n", "1", partial.id).stdout == "last without newline\n"
    assert cli("logs", "-n", "2", partial.id).stdout == "b\nlast without newline\n"

    empty = job_by_hand(state, store, ["true"])
    proc = cli("logs", empty.id)
    assert proc.stdout == "" and proc.stderr == ""
    assert cli("logs", "-n", "-1", empty.id, check=False).returncode == 2


def test_logs_n_is_fast_on_a_big_file(cli: CLI, state: StateDir, store: Store) -> None:
    """The cost of the last lines does not grow with the file (read from the end)."""
    job = job_by_hand(state, store, ["true"])
    with open(state.log_path(job.id), "wb") as fh:
        block = b"".join(b"%07d some output\n" % i for i in range(100_000))  # ~2 MB
        for _ in range(25):  # ~50 MB
            fh.write(block)
    started = time.perf_counter()
    data, size = tail(state.log_path(job.id), 10)
    took = time.perf_counter() - started
    print(f"tail -n 10 of {size / 1e6:.0f} MB: {took * 1000:.1f} ms")
    assert data.splitlines()[-1] == b"0099999 some output" and len(data.splitlines()) == 10
    assert took < 0.5


def expected_tail(data: bytes, n: int) -> bytes:
    if n <= 0 or not data:
        return b""
    body = data[:-1] if data.endswith(b"\n") else data
    return b"\n".join(body.split(b"\n")[-n:]) + (b"\n" if data.endswith(b"\n") else b"")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([b"a", b"bc", b"\n", b"\n\n", b"\xff", b"long line " * 3]), max_size=60
    ),
    st.integers(0, 30),
    st.integers(1, 16),
)
def test_tail_property(
    tmp_path_factory: pytest.TempPathFactory, parts: list[bytes], n: int, block: int
) -> None:
    """The last n lines, for any content and any block size (block boundaries everywhere)."""
    data = b"".join(parts)
    path = tmp_path_factory.mktemp("tail") / "log"
    path.write_bytes(data)
    saved = logs.BLOCK
    logs.BLOCK = block
    try:
        got, size = tail(path, n)
    finally:
        logs.BLOCK = saved
    assert size == len(data)
    assert got == expected_tail(data, n)


def test_follower_reads_appends_and_restarts_after_truncation(tmp_path: Path) -> None:
    path = tmp_path / "log"
    assert Follower(path, 0).read_new() == b""  # no file yet
    path.write_bytes(b"one\n")
    follower = Follower(path, 0)
    assert follower.read_new() == b"one\n"
    assert follower.read_new() == b""
    with open(path, "ab") as fh:
        fh.write(b"two\n")
    assert follower.read_new() == b"two\n"
    path.write_bytes(b"3\n")  # truncated (rotated): start again from the top
    assert follower.read_new() == b"3\n"


def test_follow_prints_everything_until_the_job_ends(cli: CLI, home: Path) -> None:
    script = "for i in 1 2 3 4 5; do echo step $i; sleep 0.2; done; printf 'no newline'"
    job_id = cli.run("sh", "-c", script)
    started = time.monotonic()
    proc = _logs(home, "-f", job_id)
    took = time.monotonic() - started
    assert proc.returncode == 0
    assert proc.stdout.decode().splitlines() == [f"step {i}" for i in range(1, 6)] + ["no newline"]
    assert cli.show(job_id)["status"] == "completed"
    assert took < 15


def test_follow_ends_when_the_worker_is_killed(cli: CLI, home: Path, state: StateDir) -> None:
    job_id = cli.run("sh", "-c", "echo before; sleep 300")
    data = cli.wait_status(job_id, {"running"})
    wait_for(lambda: b"before" in state.log_path(job_id).read_bytes())
    follower = subprocess.Popen(
        [sys.executable, "-m", "jobcore", "logs", "-f", job_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(0.5)
        assert follower.poll() is None  # following
        os.kill(data["pid"], signal.SIGKILL)
        killed = time.monotonic()
        out, err = follower.communicate(timeout=15)
        took = time.monotonic() - killed
    finally:
        follower.kill()
    print(f"logs -f ended {took:.2f}s after the worker's SIGKILL")
    assert follower.returncode == 0, err
    assert out == b"before\n"
    assert took < 10
    assert cli.show(job_id)["error"] == "worker died unexpectedly"


def test_state_folder_is_private_even_with_umask_000(tmp_path: Path, home: Path) -> None:
    proc = subprocess.run(
        ["sh", "-c", f'umask 000; exec "{sys.executable}" -m jobcore run -q -- echo hi'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    job_id = proc.stdout.strip()
    cli = CLI(home)
    cli.wait_status(job_id, {"completed"})

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(home) == 0o700
    assert mode(home / "jobs") == 0o700
    assert mode(home / "jobs" / job_id) == 0o700
    assert mode(home / "jobs" / job_id / "output.log") == 0o600
    assert mode(home / "jobs" / job_id / "job.json") == 0o600
    assert mode(home / "jobcore.db") == 0o600
    for extra in ("jobcore.db-wal", "jobcore.db-shm"):
        if (home / extra).exists():
            assert mode(home / extra) & 0o077 == 0


def test_an_open_state_folder_is_made_private(cli: CLI, home: Path) -> None:
    os.chmod(home, 0o755)
    cli("ls")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_follower_never_cuts_a_character_or_line_at_its_read_limit(tmp_path: Path) -> None:
    """Regression: with more than ``limit`` bytes pending, a chunk ended wherever the limit
    fell, so `logs -f` (which decodes chunk by chunk) printed U+FFFD U+FFFD for one valid
    character split across two reads."""
    path = tmp_path / "log"
    path.write_bytes(b"a" * 9 + "é€😀".encode() + b"\n" + b"b" * 30 + b"\n")
    follower = Follower(path, 0)
    chunks = []
    while chunk := follower.read_new(limit=10):
        chunks.append(chunk)
    assert b"".join(chunks) == path.read_bytes()
    for chunk in chunks:
        chunk.decode("utf-8")  # every chunk decodes on its own
    lines = Follower(path, 0)
    assert lines.read_new(limit=30) == b"a" * 9 + "é€😀".encode() + b"\n"  # whole lines


def test_follow_prints_a_character_at_the_read_limit_intact(
    cli: CLI, state: StateDir, store: Store
) -> None:
    with foreign_process() as stand_in:  # a live "worker", so the job reads as running
        job = job_by_hand(state, store, ["true"])
        fake_running(store, job.id, stand_in.pid, real_start(stand_in.pid))
        log = state.log_path(job.id)
        log.write_bytes(b"start\n")
        follower = subprocess.Popen(
            [sys.executable, "-m", "jobcore", "logs", "-f", "-n", "1", job.id],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert follower.stdout is not None
            assert follower.stdout.readline() == b"start\n"  # now following from the end
            # Appear at once (rename) with "é" straddling the 256 KiB read limit.
            bigger = log.with_name("next")
            bigger.write_bytes(b"start\n" + b"a" * (4 * logs.BLOCK - 1) + "é\n".encode())
            os.replace(bigger, log)
            time.sleep(0.5)
            set_row(store, job.id, status="completed", finished_at=time.time())
            out, err = follower.communicate(timeout=30)
        finally:
            follower.kill()
    assert follower.returncode == 0, err
    text = out.decode("utf-8")
    assert "\ufffd" not in text
    assert text == "a" * (4 * logs.BLOCK - 1) + "é\n"


def test_follow_on_a_terminal_draws_the_bar_being_rewritten(cli: CLI, tmp_path: Path) -> None:
    """The log has only snapshots of a \\r bar; ``logs -f`` on a terminal draws it as it is
    now under the output, then erases it for new output and at the end."""
    gate = tmp_path / "gate"
    script = (
        'echo start; printf "\\rstep 1/3"; sleep 0.1; printf "\\rstep 2/3";'
        f' while [ ! -e {gate} ]; do sleep 0.02; done; printf "\\rstep 3/3\\n"; echo end'
    )
    job_id = cli.run("sh", "-c", script)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobcore", "logs", "-f", job_id],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    try:
        seen = read_pty(leader, lambda out: b"step 2/3" in out)
        gate.touch()
        rest = read_pty(leader)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        os.close(leader)
    assert seen.replace(b"\r\n", b"\n").startswith(b"start\n")
    assert seen.endswith(b"step 2/3")  # drawn with no newline, like the command would
    assert rest.startswith(b"\r\x1b[K")  # erased before what came next
    assert rest.replace(b"\r\n", b"\n").endswith(b"step 3/3\nend\n")
