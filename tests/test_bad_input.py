"""Every bad input: one line on stderr, the right exit code, nothing created, no traceback."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import string
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobcore.base.errors import UsageError
from jobcore.cli.args import parse_env as _parse_env
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from tests.conftest import CLI
from tests.reliability.support import job_by_hand, mounted, run_worker_sync


def one_line_error(proc, code: int, *needles: str) -> str:
    """The command failed with ``code`` and a single 'jobcore: error:' line naming needles."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("jobcore: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def no_jobs(home: Path) -> bool:
    if not (home / "jobcore.db").exists():  # refused before the database was even opened
        return not (home / "jobs").exists() or not list((home / "jobs").iterdir())
    with sqlite3.connect(home / "jobcore.db") as conn:
        count = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
    folders = list((home / "jobs").iterdir()) if (home / "jobs").exists() else []
    return count == 0 and folders == []


# -- run --------------------------------------------------------------------------------------


def test_run_of_a_missing_command_is_refused_and_creates_nothing(cli: CLI, home: Path) -> None:
    proc = cli("run", "--", "nonexistent-command-xyz", "arg", check=False)
    one_line_error(proc, 1, "command not found: nonexistent-command-xyz")
    assert proc.stdout == ""
    proc = cli("run", "--", "./not-here.sh", check=False)
    one_line_error(proc, 1, "command not found: ./not-here.sh")
    assert no_jobs(home)
    assert json.loads(cli("ls", "--json").stdout) == []


def test_run_with_a_missing_cwd_is_refused(cli: CLI, home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    proc = cli("run", "--cwd", str(missing), "--", "true", check=False)
    one_line_error(proc, 1, f"cwd does not exist: {missing}")
    assert no_jobs(home)


def test_run_in_a_folder_or_name_not_utf8_is_refused(cli: CLI, home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "dir\udcff"  # a file name's byte 0xff, as Python decodes it
    os.mkdir(folder)
    proc = cli("run", "--cwd", str(folder), "--", "true", check=False)
    one_line_error(proc, 1, "is not valid UTF-8")
    proc = cli("run", "--name", "n\udcff", "--", "true", check=False)
    one_line_error(proc, 1, "--name 'n\\udcff' is not valid UTF-8")
    assert no_jobs(home)


def test_run_without_a_command_is_a_usage_error(cli: CLI, home: Path) -> None:
    one_line_error(cli("run", check=False), 2, "no command given")
    one_line_error(cli("run", "--", check=False), 2, "no command given")


@pytest.mark.parametrize("pair", ["FOO", "=x", "A B=1", "", "X-Y=1", "A\0B=1"])
def test_bad_env_is_a_usage_error(cli: CLI, home: Path, pair: str) -> None:
    if "\0" in pair:  # argv cannot carry NUL: check the parser itself
        with pytest.raises(UsageError):
            _parse_env([pair])
        return
    proc = cli("run", "--env", pair, "--", "true", check=False)
    one_line_error(proc, 2, "--env expects NAME=VALUE", repr(pair))
    assert not (home / "jobs").exists() or not list((home / "jobs").iterdir())


_name = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,20}\Z")
_value = st.text(
    alphabet=st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=30
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_name, _value), max_size=6))
def test_env_parsing_property(pairs: list[tuple[str, str]]) -> None:
    """NAME=VALUE round-trips (values may hold '=' and anything but NUL); the last wins."""
    assert _parse_env([f"{k}={v}" for k, v in pairs]) == dict(pairs)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_env_parsing_never_accepts_a_bad_name(pair: str) -> None:
    try:
        env = _parse_env([pair])
    except UsageError as exc:
        assert exc.exit_code == 2
        return
    ((key, value),) = env.items()
    assert pair == f"{key}={value}" and key and "\0" not in pair
    assert all(c.isalnum() or c == "_" for c in key)


# -- job ids ----------------------------------------------------------------------------------


def _force_id(store: Store, job_id: str, new: str) -> None:
    with store.write() as conn:
        conn.execute("UPDATE jobs SET id = ? WHERE id = ?", (new, job_id))


def test_unknown_and_ambiguous_ids(cli: CLI, state: StateDir, store: Store) -> None:
    for new in ("abcde", "abcdf", "xyzzz"):
        _force_id(store, job_by_hand(state, store, ["true"]).id, new)
    for cmd in ("show", "logs", "stop", "kill", "resume"):
        one_line_error(cli(cmd, "qqqqq", check=False), 1, "no job with id 'qqqqq'")
        one_line_error(cli(cmd, "abcd", check=False), 2, "ambiguous", "abcde", "abcdf")
    one_line_error(cli("show", "not-an-id!", check=False), 1, "no job with id")
    assert cli.show("abcde")["id"] == "abcde"  # a full id is never ambiguous
    assert cli.show("xy")["id"] == "xyzzz"  # a unique prefix
    assert cli.show(" XYZ ")["id"] == "xyzzz"  # typed in capitals, with spaces


def test_stop_kill_resume_of_finished_jobs(cli: CLI) -> None:
    job_id = cli.run("true")
    cli.wait_status(job_id, {"completed"})
    one_line_error(cli("stop", job_id, check=False), 1, "is completed", "nothing to stop")
    one_line_error(cli("kill", job_id, check=False), 1, "is completed", "nothing to stop")
    one_line_error(cli("resume", job_id, check=False), 1, "has completed")


def test_other_usage_errors(cli: CLI, state: StateDir, store: Store) -> None:
    job = job_by_hand(state, store, ["true"])
    one_line_error(cli("ls", "--status", "bogus", check=False), 2, "unknown status 'bogus'")
    one_line_error(cli("logs", "-n", "-3", job.id, check=False), 2, "-n")
    one_line_error(cli("stop", "--grace", "-1", job.id, check=False), 2, "--grace")
    proc = cli("progress", "--done", "1", check=False)
    one_line_error(proc, 1, "JOBCORE_JOB_ID")
    proc = cli("frobnicate", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


# -- the state folder and its database -------------------------------------------------------


def test_state_folder_under_a_file_is_refused(cli: CLI, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    proc = cli("--home", str(blocker / "state"), "run", "--", "true", check=False)
    one_line_error(proc, 1, "cannot create state folder", str(blocker / "state"))
    proc = cli("ls", "--home", str(blocker / "state"), check=False)
    one_line_error(proc, 1, "no state folder at")


def test_state_folder_of_another_user_is_refused(cli: CLI, home: Path) -> None:
    os.chown(home, 65534, 65534)
    try:
        proc = cli("run", "--", "true", check=False)
        one_line_error(proc, 1, "belongs to uid 65534, not to you")
        assert os.listdir(home) == []
    finally:
        os.chown(home, os.getuid(), os.getgid())


def test_read_only_state_folder_is_refused_and_left_intact(
    cli: CLI, home: Path, tmp_path: Path
) -> None:
    """We run as root, for whom chmod does not stop writes: a read-only bind mount does."""
    job_id = cli.run("true")
    cli.wait_status(job_id, {"completed"})
    before = sorted(p.name for p in home.iterdir())
    with mounted(home, "--bind", str(home)):
        remount = subprocess.run(["mount", "-o", "remount,bind,ro", str(home)], check=False)
        if remount.returncode != 0:
            pytest.skip("cannot remount read-only here")
        proc = cli("run", "--", "true", check=False)
        one_line_error(proc, 1, "not writable")
        proc = cli("ls", check=False)
        one_line_error(proc, 1, str(home))
    assert sorted(p.name for p in home.iterdir()) == before
    assert cli.show(job_id)["status"] == "completed"


def test_read_only_filesystem_without_a_state_folder(cli: CLI, tmp_path: Path) -> None:
    with mounted(tmp_path / "ro", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs") as ro:
        proc = cli("--home", str(ro / "state"), "run", "--", "true", check=False)
        one_line_error(proc, 1, "cannot create state folder", "Read-only file system")


@pytest.mark.parametrize(
    "content",
    [b"this is not a database at all" * 100, b"SQLite format 3\0" + b"\xff" * 4000],
    ids=["garbage", "bad-header"],
)
def test_corrupt_database(cli: CLI, home: Path, content: bytes) -> None:
    (home / "jobcore.db").write_bytes(content)
    for args in (("ls",), ("run", "--", "true"), ("show", "abcde")):
        proc = cli(*args, check=False)
        line = one_line_error(proc, 1, "corrupt", str(home / "jobcore.db"))
        assert "move it aside" in line
    assert (home / "jobcore.db").read_bytes() == content  # never "repaired" behind our back


def test_truncated_database(cli: CLI, home: Path) -> None:
    for _ in range(3):
        cli.run("true")
    cli("ls")
    db = home / "jobcore.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = db.read_bytes()
    assert len(data) > 8192
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    db.write_bytes(data[: len(data) // 2 + 100])
    proc = cli("ls", check=False)
    # Either the damage is noticed now (one line, "corrupt"), or the rows still readable are.
    if proc.returncode != 0:
        one_line_error(proc, 1, "corrupt")
    else:
        assert "Traceback" not in proc.stderr


def test_newer_schema_is_refused(cli: CLI, home: Path, state: StateDir) -> None:
    Store(state).close()
    with sqlite3.connect(home / "jobcore.db") as conn:
        conn.execute("PRAGMA user_version = 999")
    for args in (("ls",), ("run", "--", "true"), ("show", "abcde")):
        proc = cli(*args, check=False)
        one_line_error(proc, 1, "newer", "schema 999", "upgrade jobcore")
    with sqlite3.connect(home / "jobcore.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 999
        assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0


# -- what the worker does when the world changed after launch ---------------------------------


def test_worker_command_vanished_after_launch(state: StateDir, store: Store, tmp_path) -> None:
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho never\n")
    script.chmod(0o755)
    job = job_by_hand(state, store, [str(script)], cwd=tmp_path)
    script.unlink()
    proc = run_worker_sync(state, job.id)
    assert proc.returncode == 0, proc.stderr
    got = store.get(job.id)
    assert got.status.value == "failed"
    assert got.reason == f"command not found: {script}"
    assert got.finished_at is not None and got.exit_code is None
    log = state.log_path(job.id).read_text()
    assert f"jobcore: command not found: {script}" in log and "Traceback" not in log


def test_worker_cwd_removed_after_launch(state: StateDir, store: Store, tmp_path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    job = job_by_hand(state, store, ["true"], cwd=folder)
    folder.rmdir()
    assert run_worker_sync(state, job.id).returncode == 0
    got = store.get(job.id)
    assert got.status.value == "failed" and got.reason == f"cwd does not exist: {folder}"
    assert f"cwd does not exist: {folder}" in state.log_path(job.id).read_text()


def test_worker_command_no_longer_executable(state: StateDir, store: Store, tmp_path) -> None:
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\necho never\n")
    script.chmod(0o644)  # root too needs an x bit to exec
    job = job_by_hand(state, store, [str(script)], cwd=tmp_path)
    assert run_worker_sync(state, job.id).returncode == 0
    got = store.get(job.id)
    assert got.status.value == "failed" and got.reason == f"permission denied: {script}"


def test_worker_for_a_job_that_is_not_queued_does_nothing(state: StateDir, store: Store) -> None:
    job = job_by_hand(state, store, ["true"], status="completed")
    assert run_worker_sync(state, job.id).returncode == 0
    assert store.get(job.id).status.value == "completed"
    assert run_worker_sync(state, "nosuchjob").returncode == 0


def test_worker_usage() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "jobcore.worker"], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 2 and "usage:" in proc.stderr


def test_job_ids_use_the_unambiguous_alphabet(cli: CLI) -> None:
    ids = {cli.run("true") for _ in range(3)}
    assert len(ids) == 3
    assert all(set(i) <= set(string.ascii_lowercase + string.digits) - set("0o1li") for i in ids)


def test_progress_counts_beyond_sqlite_integers_are_usage_errors(
    cli: CLI, state: StateDir, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = job_by_hand(state, store, ["true"])
    monkeypatch.setenv("JOBCORE_JOB_ID", job.id)
    for flag in ("--total", "--done", "--advance"):
        proc = cli("progress", flag, str(2**63), check=False)
        one_line_error(proc, 2, flag)
    assert store.get(job.id).done == 0


# -- a state folder that does not exist (issue 11, item 9) ------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("ls",),
        ("show", "abcde"),
        ("logs", "abcde"),
        ("events",),
        ("failures",),
        ("wait",),
        ("doctor",),
        ("group", "ls"),
        ("config", "ls"),
        ("stop", "abcde"),
        ("clean",),
    ],
    ids=lambda a: "-".join(a),
)
def test_reading_a_missing_state_folder_says_so(cli: CLI, tmp_path: Path, args) -> None:
    missing = tmp_path / "typo"
    proc = cli("--home", str(missing), *args, check=False)
    one_line_error(proc, 1, f"no state folder at {missing}")
    assert not missing.exists()


def test_jobtui_on_a_missing_state_folder_says_so(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    proc = subprocess.run(
        [sys.executable, "-m", "jobtui", "--home", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 1 and proc.stderr.strip() == (
        f"jobtui: error: no state folder at {missing}"
    ), proc.stderr
    assert not missing.exists()


def test_writing_commands_still_create_the_state_folder(cli: CLI, tmp_path: Path) -> None:
    for n, args in enumerate(
        (("run", "--", "true"), ("config", "set", "grace", "3"), ("group", "add", "g"))
    ):
        fresh = tmp_path / f"new{n}"
        cli("--home", str(fresh), *args)
        assert fresh.is_dir()


# -- items files (issue 11, items 9 and 13) ---------------------------------------------------

ARGV_RECORDER = (
    "import os, sys; fd = os.open(os.environ['OUT'], os.O_WRONLY | os.O_APPEND | os.O_CREAT);"
    " os.write(fd, os.fsencode(sys.argv[1]) + b'\\n')"
)


def recorded_items(cli: CLI, tmp_path: Path, content: bytes) -> list[bytes]:
    """Run a batch over ``content`` whose command appends its argument's bytes to a file."""
    items = tmp_path / "items.txt"
    items.write_bytes(content)
    out = tmp_path / "argv.out"
    job_id = cli(
        "run",
        "-q",
        "--env",
        f"OUT={out}",
        "--each",
        str(items),
        "--",
        sys.executable,
        "-c",
        ARGV_RECORDER,
        "{}",
    ).stdout.strip()
    assert cli.wait_status(job_id, {"completed", "failed"})["status"] == "completed"
    return sorted(out.read_bytes().splitlines())


def test_items_that_are_not_utf8_reach_the_command_byte_for_byte(cli: CLI, tmp_path) -> None:
    lines = [b"caf\xe9.mov", b"\xff\xfe raw", b"plain", "d\u00e9j\u00e0".encode()]
    got = recorded_items(cli, tmp_path, b"\n".join(lines) + b"\n")
    assert got == sorted(lines)


def test_a_byte_order_mark_is_not_part_of_the_first_item(cli: CLI, tmp_path) -> None:
    assert recorded_items(cli, tmp_path, b"\xef\xbb\xbfone\r\ntwo\r\n") == [b"one", b"two"]


def test_an_item_with_a_nul_byte_is_refused_at_launch(cli: CLI, home: Path, tmp_path) -> None:
    items = tmp_path / "items.txt"
    items.write_bytes(b"a\n\nb\0c\nd\n")
    proc = cli("run", "--each", str(items), "--", "echo", check=False)
    one_line_error(proc, 1, "line 3", "NUL")
    assert no_jobs(home)


def test_progress_error_is_masked_like_output(cli: CLI, home: Path) -> None:
    script = f'{sys.executable} -m jobcore progress --error "upload failed: $API_TOKEN"'
    job_id = cli.run("sh", "-c", script, opts=("--env", "API_TOKEN=hunter2-very-secret"))
    cli.wait_status(job_id, {"completed"})
    log = (home / "jobs" / job_id / "output.log").read_text()
    assert "upload failed: ***" in log and "hunter2" not in log


# -- numbers out of range (issue 11, item 13) -------------------------------------------------

HUGE = str(2**64)


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (("run", "--delay", "1e300", "--", "true"), "--delay"),
        (("run", "--delay", "20000d", "--", "true"), "--delay"),
        (("run", "--priority", HUGE, "--", "true"), "--priority"),
        (("run", "--each", "ITEMS", "-j", HUGE, "--", "echo"), "--parallel"),
        (("run", "--each", "ITEMS", "-j", "20000", "--", "echo"), "--parallel"),
        (("run", "--each", "ITEMS", "--retries", HUGE, "--", "echo"), "--retries"),
        (("run", "--each", "ITEMS", "--backoff", "inf", "--", "echo"), "--backoff"),
        (("run", "--each", "ITEMS", "--backoff", "nan", "--", "echo"), "--backoff"),
        (("run", "--each", "ITEMS", "--backoff", "1e300", "--", "echo"), "--backoff"),
        (("group", "add", "g", "--parallel", HUGE), "--parallel"),
        (("group", "set", "default", "--parallel", "0"), "--parallel"),
        (("logs", "-n", HUGE, "JOB"), "-n"),
        (("stop", "--grace", "inf", "JOB"), "--grace"),
        (("stop", "--grace", "nan", "JOB"), "--grace"),
        (("wait", "--timeout", "nan"), "--timeout"),
        (("wait", "--timeout", "-1"), "--timeout"),
        (("clean", "--keep", HUGE), "--keep"),
        (("clean", "--older-than", "1e300"), "--older-than"),
        (("config", "set", "grace", "inf"), "grace"),
        (("config", "set", "grace", "1e300"), "grace"),
        (("config", "set", "keep", HUGE), "keep"),
        (("config", "set", "notify_after", "nan"), "notify_after"),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(v)[:40],
)
def test_numbers_out_of_range_are_usage_errors(
    cli: CLI, state: StateDir, store: Store, tmp_path: Path, args, flag: str
) -> None:
    job = job_by_hand(state, store, ["sleep", "60"])
    items = tmp_path / "items.txt"
    items.write_text("a\n")
    argv = [{"ITEMS": str(items), "JOB": job.id}.get(a, a) for a in args]
    proc = cli(*argv, check=False)
    one_line_error(proc, 2, flag)
    assert len(store.list_jobs()) == 1
    cli("ls")  # still readable


def test_a_config_file_with_an_infinite_grace_is_refused(
    cli: CLI, home: Path, state: StateDir
) -> None:
    (home / "config.toml").write_text("grace = inf\n")
    one_line_error(cli("config", "ls", check=False), 1, "grace")


# -- a database that turns out corrupt mid-query, a job whose folder is gone ------------------


def corrupt_after_open(state: StateDir, store: Store) -> None:
    """Many rows, then garbage over the middle pages: the header (and the open) still pass."""
    for i in range(300):
        store.create_job(["echo", "x" * 200], "/", {}, f"job{i}")
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    data = bytearray(state.db_path.read_bytes())
    for page in range(3, len(data) // 4096 - 2):
        data[page * 4096 : page * 4096 + 100] = b"\xff" * 100
    state.db_path.write_bytes(bytes(data))


def test_corruption_found_mid_query_is_the_same_one_line(
    cli: CLI, state: StateDir, store: Store
) -> None:
    corrupt_after_open(state, store)
    for args in (("ls",), ("events",), ("failures",)):
        line = one_line_error(cli(*args, check=False), 1, "corrupt", str(state.db_path))
        assert "move it aside" in line and "internal error" not in line


def test_doctor_reports_a_corrupt_database(cli: CLI, state: StateDir, store: Store) -> None:
    corrupt_after_open(state, store)
    proc = cli("doctor", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "internal error" not in proc.stderr
    assert "corrupt" in proc.stderr and "move it aside" in proc.stderr


def test_resume_of_a_job_whose_folder_is_gone(cli: CLI, home: Path) -> None:
    job_id = cli.run("false")
    cli.wait_status(job_id, {"failed"})
    shutil.rmtree(home / "jobs" / job_id)
    one_line_error(cli("resume", job_id, check=False), 1, "folder", "gone", "doctor --fix")
    assert cli.show(job_id)["status"] == "failed"
    cli("doctor", "--fix")
    cli("resume", job_id)
    assert cli.wait_status(job_id, {"failed"})["reason"] == "exited with code 1"
