"""A bad day for the database: its write lock held by another process, its disk full.

Workers must wait both out with their commands running, and write the truth once they can.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from jobcore.ops.reconcile import WORKER_DIED
from jobcore.state.paths import StateDir
from tests.conftest import CLI, kill_all_of, wait_for
from tests.reliability.support import LOCK_HOLDER, mounted, read_log
from tests.reliability.test_rel_sqlite import _fill

BUSY_TIMEOUT_MS = 1000
"""What the test's jobs (and CLI) wait for a lock before a write fails, instead of 30 s."""


def _batch_items(path: Path, n: int) -> Path:
    path.write_text("".join(f"item{i}\n" for i in range(n)))
    return path


def test_a_write_lock_held_beside_3_running_jobs(
    cli: CLI, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOBCORE_BUSY_TIMEOUT_MS", str(BUSY_TIMEOUT_MS))
    held, go = tmp_path / "held", tmp_path / "go"
    # A: output and progress all through the hold (its pipe must keep being drained);
    # B: ends during the hold (its final state waits for the lock);
    # C: a batch whose items end during the hold (checkpoints wait, none is lost or redone).
    chatty = cli.run(
        "sh",
        "-c",
        f'i=0; while [ ! -e {go} ]; do i=$((i+1)); echo "::progress $i";'
        " head -c 20000 /dev/zero | tr '\\0' x; echo; sleep 0.02; done; echo \"total $i\"",
    )
    ending = cli.run("sh", "-c", f"while [ ! -e {held} ]; do sleep 0.05; done; sleep 2; echo b")
    batch = cli.run(
        "sh",
        "-c",
        f'while [ ! -e {held} ]; do sleep 0.05; done; sleep 0.3; echo "$0"',
        "{}",
        opts=("--each", str(_batch_items(tmp_path / "items", 12)), "-j", "3"),
    )
    jobs = (chatty, ending, batch)
    for job_id in jobs:
        cli.wait_status(job_id, {"running"})
    cli.wait_command(chatty)
    ending_cmd = cli.wait_command(ending)["command_pid"]
    workers = {j: cli.show(j)["pid"] for j in jobs}  # reading commands may not write later
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(home / "jobcore.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        taken = time.monotonic()
        log_at_start = StateDir(home).log_path(chatty).stat().st_size
        held.touch()
        # The CLI still fails fast, in one line.
        refused = cli("run", "--", "true", check=False, timeout=30)
        assert refused.returncode == 1, refused
        assert len(refused.stderr.splitlines()) == 1 and "Traceback" not in refused.stderr
        assert "locked" in refused.stderr or "busy" in refused.stderr, refused.stderr
        # Hold well past the busy timeout, until B's command and C's items have ended.
        wait_for(lambda: time.monotonic() - taken > 4 * BUSY_TIMEOUT_MS / 1000, timeout=30)
        wait_for(lambda: not _running(ending_cmd), timeout=30)
        alive = [j for j, pid in workers.items() if _running(pid)]
        hold = time.monotonic() - taken
        copied = StateDir(home).log_path(chatty).stat().st_size - log_at_start
    finally:
        holder.stdin.write("release\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    go.touch()
    ends = {j: cli.wait_status(j, {"completed", "failed", "paused"}, timeout=60) for j in jobs}
    died = [j for j, data in ends.items() if data["reason"] == WORKER_DIED]
    completed = [j for j, data in ends.items() if data["status"] == "completed"]
    print(
        f"a write lock held {hold:.1f} s (busy timeout {BUSY_TIMEOUT_MS / 1000:.0f} s) beside "
        f"3 running jobs: {len(completed)} complete, {len(died)} died "
        f"({len(alive)} workers alive during the hold, {copied / 1e6:.1f} MB of output copied "
        "to the log meanwhile)"
    )
    assert len(alive) == 3 and died == [] and len(completed) == 3, ends
    # A pump stuck in each write for the busy timeout would let through about one 64 KB
    # pipe buffer a second; one that never waits long copies all the command writes.
    assert copied > 16 * 65536
    chatty_log = read_log(StateDir(home), chatty).decode()
    total = int(chatty_log.rsplit("total ", 1)[1].split()[0])
    assert chatty_log.count("x" * 20000) == total  # every line of output is in the log
    assert ends[chatty]["done"] == total  # and the last progress was written
    assert "database unavailable" in chatty_log and "database writable again" in chatty_log
    assert ends[batch]["done"] == 12
    events = cli("events", "--json", batch).stdout
    assert "died" not in events and '"failed"' not in events
    with sqlite3.connect(home / "jobcore.db") as conn:
        attempts = [
            r[0] for r in conn.execute("SELECT attempts FROM items WHERE job_id = ?", (batch,))
        ]
    assert attempts == [1] * 12  # each item ran exactly once, none redone


def _running(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_a_full_state_disk_during_a_run(cli: CLI, home: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    with mounted(home, "-t", "tmpfs", "-o", "size=2M,mode=0700", "tmpfs"):
        try:
            job = cli.run(
                "sh",
                "-c",
                f"echo before; while [ ! -e {go} ]; do sleep 0.05; done; echo after;"
                ' echo "::progress 5/5"',
            )
            worker = cli.wait_command(job)["pid"]
            filled = _fill(home)
            go.touch()
            # The command ends while the disk is full; the disk stays full a while after.
            wait_for(lambda: _ended_command(home, job), timeout=30)
            full_since = time.monotonic()
            wait_for(lambda: time.monotonic() - full_since > 3, timeout=30)
            alive_while_full = _running(worker)
            (home / "filler").unlink()
            data = cli.wait_status(job, {"completed", "failed"}, timeout=60)
            with sqlite3.connect(home / "jobcore.db") as conn:
                integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
            log = cli("logs", job).stdout
            print(
                f"a full state disk during a run ({filled} bytes of filler): worker alive while "
                f"full: {alive_while_full}; job {data['status']}"
                f"{' (' + data['reason'] + ')' if data['reason'] else ''} once there was room, "
                f"integrity {integrity}"
            )
            assert alive_while_full
            assert data["status"] == "completed", data
            assert data["done"] == 5
            assert integrity == "ok"
            assert log.startswith("before\n")
            assert "after" in log or "lost: the disk was full" in log
        finally:
            kill_all_of(home)


def _ended_command(home: Path, job_id: str) -> bool:
    """Whether the job's command has exited (read straight from the database)."""
    with sqlite3.connect(f"file:{home / 'jobcore.db'}?mode=ro", uri=True) as conn:
        pid = conn.execute("SELECT cmd_pid FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
    return not _running(pid)
