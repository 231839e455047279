"""The state folder resists a hostile neighbour: no symlink in it is ever followed.

Each test plants a symlink where jobcore keeps a file or a folder, pointing outside the state
folder, then runs the real CLI: the operation is refused in one line and the outside file or
folder is exactly as it was.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from jobcore.base.errors import JobcoreError
from jobcore.state.atomic import write_json
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from tests.conftest import CLI
from tests.reliability.support import job_by_hand, run_worker_sync
from tests.test_bad_input import one_line_error
from tests.test_handoff import jobcore, pin

SECRET = b"root-only content\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside the state folder that a planted symlink points to."""
    path = tmp_path / "outside" / "precious"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return path


def failed_job(cli: CLI) -> str:
    job_id = cli.run("false")
    cli.wait_status(job_id, {"failed"})
    return job_id


def plant(link: Path, target: Path) -> None:
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    else:
        link.unlink(missing_ok=True)
    link.symlink_to(target)


def test_a_symlinked_log_is_never_written_or_read(
    cli: CLI, home: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = failed_job(cli)
    log = home / "jobs" / job_id / "output.log"
    plant(log, outside)
    one_line_error(cli("resume", job_id, check=False), 1, "symlink", str(log))
    proc = cli("logs", job_id, check=False)
    one_line_error(proc, 1, "symlink")
    assert SECRET.decode() not in proc.stdout
    monkeypatch.setenv("JOBCORE_JOB_ID", job_id)
    one_line_error(cli("progress", "--error", "boom", check=False), 1, "symlink")
    assert outside.read_bytes() == SECRET
    assert cli.show(job_id)["status"] == "failed"  # not left queued by the refused resume


def test_a_symlinked_job_folder_is_never_entered(cli: CLI, home: Path, outside: Path) -> None:
    job_id = failed_job(cli)
    folder = home / "jobs" / job_id
    shutil.copy(folder / "output.log", outside.parent / "output.log")
    before = sorted(p.name for p in outside.parent.iterdir())
    plant(folder, outside.parent)
    one_line_error(cli("resume", job_id, check=False), 1, "symlink", str(folder))
    one_line_error(cli("logs", job_id, check=False), 1, "symlink")
    cli("clean")  # removes the row; must not empty the folder the link points to
    cli("doctor", "--fix", check=False)
    assert sorted(p.name for p in outside.parent.iterdir()) == before
    assert outside.read_bytes() == SECRET


def test_a_symlinked_jobs_folder_is_refused(
    cli: CLI, home: Path, state: StateDir, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    plant(home / "jobs", target)
    for args in (("run", "--", "true"), ("ls",), ("doctor", "--fix")):
        one_line_error(cli(*args, check=False), 1, "symlink", str(home / "jobs"))
    assert list(target.iterdir()) == []


def test_a_symlinked_slots_folder_is_refused(cli: CLI, home: Path, tmp_path: Path) -> None:
    cli("group", "add", "one", "--parallel", "1")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (home / "slots").mkdir(mode=0o700, exist_ok=True)
    plant(home / "slots", target)
    one_line_error(cli("run", "--group", "one", "--", "true", check=False), 1, "symlink")
    assert list(target.iterdir()) == []


def test_a_symlinked_group_slot_folder_fails_the_job_not_the_worker(
    cli: CLI, home: Path, tmp_path: Path
) -> None:
    cli("group", "add", "one", "--parallel", "1")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (home / "slots").mkdir(mode=0o700, exist_ok=True)
    plant(home / "slots" / "one", target)
    job_id = cli.run("true", opts=("--group", "one"))
    data = cli.wait_status(job_id, {"failed", "completed"})
    assert data["status"] == "failed" and "symlink" in data["reason"], data
    assert list(target.iterdir()) == []


def test_a_job_record_symlink_is_replaced_not_followed(
    state: StateDir, store: Store, outside: Path
) -> None:
    job = job_by_hand(state, store, ["true"])
    plant(state.record_path(job.id), outside)
    write_json(state.record_path(job.id), {"id": job.id}, root=state.root)
    assert outside.read_bytes() == SECRET
    assert not state.record_path(job.id).is_symlink()


def test_a_record_in_a_symlinked_job_folder_is_refused(
    state: StateDir, store: Store, outside: Path
) -> None:
    job = job_by_hand(state, store, ["true"])
    plant(state.job_dir(job.id), outside.parent)
    with pytest.raises(JobcoreError, match="symlink"):
        write_json(state.record_path(job.id), {"id": job.id}, root=state.root)
    assert [p.name for p in outside.parent.iterdir()] == ["precious"]


def test_a_folder_of_another_user_inside_is_refused(cli: CLI, home: Path) -> None:
    job_id = failed_job(cli)
    folder = home / "jobs" / job_id
    os.chown(folder, 65534, 65534)
    try:
        one_line_error(cli("resume", job_id, check=False), 1, "belongs to uid 65534")
    finally:
        os.chown(folder, os.getuid(), os.getgid())


def test_doctor_removes_an_orphan_folder_only_once_it_is_old(
    cli: CLI, home: Path, state: StateDir
) -> None:
    orphan = home / "jobs" / "zzzzz"
    orphan.mkdir(mode=0o700)
    (orphan / "output.log").write_bytes(b"")
    cli("doctor", "--fix")  # a minute-young folder may be a launch in progress
    assert orphan.is_dir()
    old = time.time() - 120
    os.utime(orphan, (old, old))
    proc = cli("doctor", "--fix")
    assert "orphan-folder" in proc.stderr
    assert not orphan.exists()


def test_the_database_may_not_be_a_symlink(
    cli: CLI, home: Path, store: Store, tmp_path: Path
) -> None:
    store.close()
    target = tmp_path / "other.db"
    shutil.copy(home / "jobcore.db", target)
    (home / "jobcore.db").unlink()
    (home / "jobcore.db").symlink_to(target)
    before = target.read_bytes()
    one_line_error(cli("run", "--", "true", check=False), 1, "symlink")
    assert target.read_bytes() == before


def test_worker_refuses_a_log_planted_after_launch(
    state: StateDir, store: Store, outside: Path
) -> None:
    """A link planted between the launcher's checks and the worker's open: the job fails."""
    job = job_by_hand(state, store, ["true"])
    plant(state.log_path(job.id), outside)
    proc = run_worker_sync(state, job.id)
    assert "Traceback" not in proc.stdout + proc.stderr
    got = store.get(job.id)
    assert got.status.value == "failed" and "symlink" in (got.reason or "")
    assert outside.read_bytes() == SECRET


def test_a_dispatcher_outliving_its_jobs_folder_makes_it_again(
    cli: CLI, home: Path, store: Store
) -> None:
    """``rm -r STATE/jobs`` while the dispatcher lives: a launch handed to it makes the folder
    again (0700), where it used to fail with "cannot create job folder"."""
    pin(home)
    shutil.rmtree(home / "jobs")
    ran = jobcore("run", "-q", "--", "true")
    assert (ran.code, ran.err, ran.handed_off) == (0, "", True)
    assert cli.wait_status(ran.job_id, {"completed"})["exit_code"] == 0
    assert (home / "jobs").stat().st_mode & 0o777 == 0o700
