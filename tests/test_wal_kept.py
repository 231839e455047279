"""A process that closes its store to fork a worker leaves the WAL in place
(docs/decisions/0027-keep-the-wal-across-a-fork.md): no checkpoint, no delete, no two fsyncs
to make it again; and the database stays fully usable by everyone else."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from jobcore.state.database import open_database

REPO = Path(__file__).resolve().parent.parent

CLOSE_LAST = """
import sys
from pathlib import Path
from jobcore.state.database import keep_wal, open_database
path = Path(sys.argv[1])
conn = open_database(path)
conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
conn.execute("INSERT INTO t VALUES (1)")
if sys.argv[2] == "keep":
    keep_wal(path)
    keep_wal(path)  # once per process
conn.close()
print(path.with_name(path.name + "-wal").exists())
"""


def close_last(path: Path, keep: bool) -> bool:
    """Whether the WAL still exists after the only connection closed, in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", CLOSE_LAST, str(path), "keep" if keep else "plain"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip() == "True"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="open file description locks")
def test_the_last_close_keeps_the_wal_only_where_asked(tmp_path: Path) -> None:
    assert close_last(tmp_path / "plain.db", keep=False) is False  # SQLite's own way
    assert close_last(tmp_path / "kept.db", keep=True) is True


def test_a_kept_wal_is_still_checkpointed_and_read_by_others(tmp_path: Path) -> None:
    path = tmp_path / "kept.db"
    close_last(path, keep=True)
    conn = open_database(path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1
        conn.execute("INSERT INTO t VALUES (2)")
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
        assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 2
    finally:
        conn.close()
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        check.close()
