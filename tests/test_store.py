"""The SQLite store: schema and migrations, refusing newer/corrupt files, many writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobcore.base.errors import JobcoreError, UsageError
from jobcore.state.paths import StateDir, resolve_home
from jobcore.state.schema import MIGRATIONS, SCHEMA_VERSION, split_sql
from jobcore.state.store import ID_ALPHABET, ID_LENGTH, Store
from tests.reliability.support import run_writers


def test_fresh_database_has_the_latest_schema_in_wal_mode(store: Store, state: StateDir) -> None:
    conn = store.conn
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"jobs", "samples"} <= tables
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    Store(state).close()  # opening again migrates nothing and keeps the version
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.parametrize("from_version", range(1, SCHEMA_VERSION))
def test_migration_from_every_older_version_keeps_the_rows(
    tmp_path: Path, from_version: int
) -> None:
    state = resolve_home(tmp_path / "state")
    with sqlite3.connect(state.db_path) as conn:
        for script in MIGRATIONS[:from_version]:
            for statement in split_sql(script):
                conn.execute(statement)
        conn.execute(
            "INSERT INTO jobs (id, name, command, cwd, status, created_at, queued_at, done)"
            " VALUES ('abcde', 'old', '[\"true\"]', '/', 'completed', 1.0, 1.0, 3)"
        )
        conn.execute(f"PRAGMA user_version = {from_version}")
    with Store(state) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        job = store.get("abcde")
        assert (job.name, job.command, job.status.value, job.done) == (
            "old",
            ["true"],
            "completed",
            3,
        )
        assert store.create_job(["true"], "/", {}, None).seq == 2  # and it is usable


def test_newer_schema_is_refused_and_left_alone(state: StateDir) -> None:
    Store(state).close()
    with sqlite3.connect(state.db_path) as conn:
        conn.execute("PRAGMA user_version = 999")
    with pytest.raises(JobcoreError, match="newer jobcore") as info:
        Store(state)
    assert info.value.exit_code == 1
    with sqlite3.connect(state.db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 999


def test_corrupt_database_is_named_corrupt(state: StateDir) -> None:
    state.db_path.write_bytes(b"\0garbage" * 512)
    with pytest.raises(JobcoreError, match="is corrupt") as info:
        Store(state)
    assert "move it aside" in str(info.value)


def test_first_open_waits_for_another_process_switching_the_journal(tmp_path: Path) -> None:
    """Turning a new file to WAL fails at once, busy handler or not, while another connection
    holds a write lock in rollback mode (two processes creating the state at the same moment):
    the open must wait for it instead of failing with "database is locked"."""
    root = tmp_path / "fresh"
    state = resolve_home(root)
    holder = sqlite3.connect(state.db_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, holder.execute, ("ROLLBACK",))
    release.start()
    try:
        with Store(state) as store:
            assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        release.join()
        holder.close()


def test_many_processes_opening_a_fresh_database_at_once(tmp_path: Path) -> None:
    """Creating the schema races: every first open must succeed, and migrate only once."""
    root = tmp_path / "fresh"
    resolve_home(root)
    go = tmp_path / "go"
    script = (
        "import sys, time, pathlib\n"
        "from jobcore.state.paths import StateDir\nfrom jobcore.state.store import Store\n"
        f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.002)\n"
        f"s = Store(StateDir(pathlib.Path({str(root)!r})))\n"
        "s.create_job(['true'], '/', {}, None)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
        for _ in range(16)
    ]
    try:
        time.sleep(0.3)
        go.write_text("")
        errors = [p.communicate(timeout=60)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0] * 16, [e for e in errors if e]
    with Store(StateDir(root)) as store:
        assert len(store.list_jobs()) == 16
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_16_writer_processes_never_see_locked_and_lose_nothing(
    state: StateDir, store: Store, tmp_path: Path
) -> None:
    results, shared, took = run_writers(state, store, 16, jobs_each=5, seconds=1.0, tmp=tmp_path)
    locked = sum(r["locked"] for r in results)
    errors = [e for r in results for e in r["errors"]]
    commits = sum(r["created"] + r["progress"] + r["shared"] for r in results)
    print(f"16 writers: {commits} commits in {took:.1f}s, {locked} locked, {len(errors)} errors")
    assert locked == 0 and errors == []
    assert sum(r["created"] for r in results) == 16 * 5
    jobs = {j.id: j for j in store.list_jobs(name="writer")}
    assert len(jobs) == 80
    for r in results:  # exact per-job counts: no update lost, none applied twice
        mine = [jobs[i].done for i in r["mine"]]
        assert sum(mine) == r["progress"]
    assert store.get(shared).done == sum(r["shared"] for r in results)
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- id prefixes ------------------------------------------------------------------------------

_ids = st.sets(st.text(alphabet=ID_ALPHABET, min_size=ID_LENGTH, max_size=ID_LENGTH), max_size=12)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory):
    with Store(resolve_home(tmp_path_factory.mktemp("resolve") / "s")) as store:
        yield store


@settings(max_examples=200, deadline=None)
@given(ids=_ids, prefix=st.text(alphabet=ID_ALPHABET[:6] + "A Z!0", max_size=6), pick=st.data())
def test_resolve_property(
    shared_store: Store, ids: set[str], prefix: str, pick: st.DataObject
) -> None:
    """unique prefix -> that job; exact id -> that job; several -> ambiguous (2); none -> 1."""
    store = shared_store
    with store.write() as conn:
        conn.execute("DELETE FROM jobs")
        for i, job_id in enumerate(sorted(ids)):
            conn.execute(
                "INSERT INTO jobs (id, command, cwd, status, created_at, queued_at)"
                " VALUES (?, '[]', '/', 'completed', ?, ?)",
                (job_id, i, i),
            )
    if ids and pick.draw(st.booleans()):  # often, a prefix of a real id
        real = pick.draw(st.sampled_from(sorted(ids)))
        prefix = real[: pick.draw(st.integers(1, ID_LENGTH))]
        if pick.draw(st.booleans()):
            prefix = f"  {prefix.upper()} "
    wanted = prefix.strip().lower()
    matches = sorted(i for i in ids if wanted and i.startswith(wanted))
    try:
        job = store.resolve(prefix)
    except UsageError as exc:
        assert exc.exit_code == 2 and len(matches) > 1 and wanted not in ids
        assert "ambiguous" in str(exc)
        return
    except JobcoreError as exc:
        assert exc.exit_code == 1 and matches == []
        return
    assert job.id in matches
    assert job.id == wanted or matches == [job.id]
