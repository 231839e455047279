"""SQLite under stress: 32 writer processes, copies taken mid-write, a full filesystem."""

from __future__ import annotations

import errno
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from jobcore.state.paths import StateDir, resolve_home
from jobcore.state.store import Store
from tests.conftest import CLI, kill_all_of
from tests.reliability.support import mounted, run_writers


def test_32_writers_for_3_seconds(state: StateDir, store: Store, tmp_path: Path) -> None:
    results, shared, took = run_writers(state, store, 32, jobs_each=3, seconds=3.0, tmp=tmp_path)
    locked = sum(r["locked"] for r in results)
    errors = [e for r in results for e in r["errors"]]
    progress = sum(r["progress"] + r["shared"] for r in results)
    created = sum(r["created"] for r in results)
    print(
        f"32 writers, {took:.1f}s: {created} jobs created, {progress} progress commits "
        f"({progress / took:.0f}/s), {locked} 'database is locked', {len(errors)} other errors"
    )
    assert locked == 0 and errors == []
    assert created == 96
    jobs = {j.id: j for j in store.list_jobs(name="writer")}
    assert len(jobs) == 96
    for r in results:
        assert sum(jobs[i].done for i in r["mine"]) == r["progress"]
    assert store.get(shared).done == sum(r["shared"] for r in results)
    assert progress > 32  # every writer got its turns
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


PIN = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
for line in sys.stdin:
    if line.strip() == "pin":
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM jobs").fetchone()
    else:
        conn.execute("COMMIT")
    print("ok", flush=True)
"""
"""Holds a read transaction on request: while it is open, no checkpoint can restart the WAL."""


def test_database_copied_mid_write_opens_cleanly(
    state: StateDir, store: Store, tmp_path: Path
) -> None:
    """``cp`` of the db and then its -wal while writers commit opens and checks ok.

    Each copy is taken while another process holds a read transaction, as a backup tool
    holding the database open would. Without one, a checkpoint that restarts the WAL between
    the two ``cp`` calls pairs an old db file with a new WAL, and no SQLite database survives
    that (seen: "wrong # of entries in index"). With one, checkpoints may still write pages
    into the db file mid-copy, but only pages the copied WAL holds newer versions of; commits
    keep arriving in the WAL during the copy, and a torn last frame is dropped on open.
    """
    copies: list[Path] = []
    stop = threading.Event()
    pin = subprocess.Popen(
        [sys.executable, "-c", PIN, str(state.db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert pin.stdin is not None and pin.stdout is not None

    def ask(word: str) -> None:
        assert pin.stdin is not None and pin.stdout is not None
        pin.stdin.write(word + "\n")
        pin.stdin.flush()
        assert pin.stdout.readline().strip() == "ok"

    def copier() -> None:
        # cp runs in its own process: closing a descriptor of the database in this one would
        # drop every SQLite lock this process holds on it
        # (docs/decisions/0018-never-close-a-database-descriptor.md).
        n = 0
        wal = Path(str(state.db_path) + "-wal")
        while not stop.is_set():
            target = tmp_path / f"copy{n}"
            target.mkdir()
            ask("pin")
            files = [state.db_path, *([wal] if wal.exists() else [])]
            subprocess.run(["cp", *map(str, files), str(target)], check=True)
            ask("unpin")
            copies.append(target)
            n += 1
            time.sleep(0.05)

    thread = threading.Thread(target=copier)
    thread.start()
    try:
        results, _shared, _took = run_writers(
            state, store, 4, jobs_each=2, seconds=2.0, tmp=tmp_path
        )
    finally:
        stop.set()
        thread.join()
        pin.kill()
        pin.wait()
    assert sum(r["locked"] for r in results) == 0
    with_wal = sum((c / "jobcore.db-wal").exists() for c in copies)
    clean = 0
    problems = []
    for copy in copies:
        try:
            with Store(resolve_home(copy)) as copied:
                check = copied.conn.execute("PRAGMA integrity_check").fetchone()[0]
                copied.list_jobs()
            if check == "ok":
                clean += 1
            else:
                problems.append(f"{copy.name}: {check}")
        except Exception as exc:
            problems.append(f"{copy.name}: {exc}")
    print(
        f"{len(copies)} copies taken mid-write ({with_wal} with a -wal): "
        f"{clean} opened cleanly with integrity_check ok; problems: {problems}"
    )
    assert len(copies) >= 10 and with_wal >= 1
    assert problems == []


def _fill(folder: Path) -> int:
    """Write a file until the filesystem is full; its size."""
    written = 0
    with open(folder / "filler", "wb", buffering=0) as fh:
        block = b"\0" * 4096
        while True:
            try:
                written += fh.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    for size in (512, 64, 1):  # the last crumbs too
        try:
            with open(folder / "filler", "ab", buffering=0) as fh:
                while True:
                    written += fh.write(b"\0" * size)
        except OSError:
            continue
    return written


def test_full_filesystem_is_a_clear_error_and_keeps_earlier_state(cli: CLI, home: Path) -> None:
    with mounted(home, "-t", "tmpfs", "-o", "size=1M,mode=0700", "tmpfs"):
        try:
            first = cli.run("sh", "-c", "echo earlier")
            cli.wait_status(first, {"completed"})
            cli("ls")
            filled = _fill(home)
            outcomes = {}
            for args in (("run", "--", "true"), ("run", "--", "echo", "x" * 100)):
                proc = cli(*args, check=False)
                outcomes[" ".join(args[:1])] = (proc.returncode, proc.stderr.strip())
                assert proc.returncode == 1, (proc.stdout, proc.stderr)
                assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr
                assert "full" in proc.stderr or "No space" in proc.stderr, proc.stderr
                assert proc.stdout == ""
            reading = cli("ls", "--json", check=False)
            print(
                f"full tmpfs ({filled} bytes of filler): run -> {outcomes['run']}; "
                f"ls while full -> exit {reading.returncode} {reading.stderr.strip()!r}"
            )
            assert "Traceback" not in reading.stderr
            (home / "filler").unlink()
            jobs = cli.ls("--all")
            assert [j["id"] for j in jobs] == [first], jobs  # nothing half-created is left
            assert jobs[0]["status"] == "completed"
            assert cli("logs", first).stdout == "earlier\n"
            with sqlite3.connect(home / "jobcore.db") as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            later = cli.run("true")  # and it works again once there is room
            assert cli.wait_status(later, {"completed", "failed"})["status"] == "completed"
        finally:
            kill_all_of(home)
