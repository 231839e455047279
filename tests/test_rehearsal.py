"""A spare worker's rehearsal of a start (``jobcore.worker.rehearsal``) reads and writes
nothing: not the database, not the job's folder, not a cgroup, not the output of anyone."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import pytest

from jobcore.procs import cgroup_child
from jobcore.procs.cgroup import tracking
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from jobcore.worker.rehearsal import rehearse
from tests.conftest import CLI


def _everything(state: StateDir) -> tuple[object, ...]:
    """The whole database, and every file of the state folder with its size and mtime."""
    with contextlib.closing(sqlite3.connect(state.db_path)) as conn:
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        rows = [conn.execute(f"SELECT * FROM {table}").fetchall() for (table,) in tables]
    files = sorted(
        (str(path), path.stat().st_size, path.stat().st_mtime_ns)
        for path in state.jobs_root.rglob("*")
    )
    return rows, files


def _cgroups() -> list[str]:
    base = tracking().base
    return [] if base is None else sorted(os.listdir(base))


def test_a_rehearsal_goes_through_a_start_and_changes_nothing(
    cli: CLI,
    state: StateDir,
    store: Store,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job_id = cli.run("sh", "-c", "echo hello; exit 3")
    cli.wait_status(job_id, {"failed"})
    cli("config", "set", "redact_env", "TOKEN")
    reached = []
    planned = cgroup_child.rehearse
    monkeypatch.setattr(
        cgroup_child, "rehearse", lambda argv, env: reached.append(argv) or planned(argv, env)
    )
    before, cgroups = _everything(state), _cgroups()
    rehearse(state, store)
    assert _everything(state) == before
    assert _cgroups() == cgroups
    assert capfd.readouterr() == ("", "")
    # as far as the command's clone, where this system has cgroups to clone into
    assert reached == ([] if tracking().base is None else [["sh", "-c", "echo hello; exit 3"]])


@pytest.mark.parametrize("damage", ["launch env", "folder", "config"])
def test_a_rehearsal_of_a_damaged_job_is_harmless(
    cli: CLI, state: StateDir, store: Store, damage: str, capfd: pytest.CaptureFixture[str]
) -> None:
    job_id = cli.run("true")
    cli.wait_status(job_id, {"completed"})
    if damage == "launch env":
        state.env_path(job_id).write_text("{not json")
    elif damage == "folder":
        for path in sorted(state.job_dir(job_id).rglob("*"), reverse=True):
            path.unlink()
        state.job_dir(job_id).rmdir()
    else:
        Path(state.root / "config.toml").write_text("grace = 'soon'\n")
    rehearse(state, store)  # raises nothing, says nothing
    assert capfd.readouterr() == ("", "")


def test_a_rehearsal_on_a_database_it_cannot_read_is_harmless(
    state: StateDir, store: Store, capfd: pytest.CaptureFixture[str]
) -> None:
    store.conn.execute("DROP TABLE jobs")  # a damaged or foreign database
    rehearse(state, store)  # raises nothing, says nothing: the spare waits for its job
    assert capfd.readouterr() == ("", "")


def test_a_rehearsal_of_a_batch_changes_nothing(
    cli: CLI, state: StateDir, store: Store, capfd: pytest.CaptureFixture[str]
) -> None:
    job_id = cli("run", "-q", "--each", "-", "--", "echo", input="a\nb\nc\n").stdout.strip()
    cli.wait_status(job_id, {"completed"})
    before, cgroups = _everything(state), _cgroups()
    rehearse(state, store)
    assert (_everything(state), _cgroups()) == (before, cgroups)
    assert capfd.readouterr() == ("", "")
