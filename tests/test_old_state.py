"""Yesterday's state still opens: a state folder written by the first release (schema 1).

tests/fixtures/state-first-release/state was written by commit ce60842's own CLI and workers
(make_fixture.py beside it says how). Each test opens a private copy with today's code, which
migrates it, and reads back the values that release wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from jobcore.state.models import JobStatus
from jobcore.state.paths import StateDir
from jobcore.state.schema import SCHEMA_VERSION
from jobcore.state.store import Store
from tests.conftest import CLI, wait_for

FIXTURE = Path(__file__).parent / "fixtures" / "state-first-release" / "state"

# The jobs make_fixture.py wrote, oldest first (ids as that run drew them).
RENDER = "qxv8t"  # completed, named, GREETING=hello, progress 3/4 with one error
FAILED = "gx3ck"  # exited with code 3
NAP = "yd7fc"  # stopped by the user: paused
KILLED = "dyxf5"  # killed by the user
LOST = "eay53"  # left "running" when its worker was SIGKILLed
RENDER_COMMAND = [
    "sh",
    "-c",
    'echo "$GREETING from the first release"; echo "::total 4"; echo "::progress 3/4 c.txt";'
    ' echo "::error d.txt: unreadable"; echo "render done"',
]
COMMANDS = {
    RENDER: RENDER_COMMAND,
    FAILED: ["sh", "-c", "echo 'about to fail' >&2; exit 3"],
    NAP: ["sh", "-c", "echo napping; sleep 300"],
    KILLED: ["sh", "-c", "echo doomed; sleep 301"],
    LOST: ["sh", "-c", "echo working; sleep 302"],
}
LOGS = {
    RENDER: "hello from the first release\n::error d.txt: unreadable\nrender done\n",
    FAILED: "about to fail\n",
    NAP: "napping\n",
    KILLED: "doomed\n",
    LOST: "working\n",
}
# (status, reason, exit code) once today's code has looked at the worker of LOST.
ENDINGS = {
    LOST: ("failed", "worker died unexpectedly", None),
    KILLED: ("failed", "killed", -15),
    NAP: ("paused", "stopped by user", -15),
    FAILED: ("failed", "exited with code 3", 3),
    RENDER: ("completed", None, 0),
}
NEWEST_FIRST = [LOST, KILLED, NAP, FAILED, RENDER]


@pytest.fixture
def old_home(home: Path) -> Path:
    """The conftest state folder, filled with a copy of the first release's state, private as
    jobcore keeps it (git keeps neither 0700 nor 0600)."""
    shutil.copytree(FIXTURE, home, dirs_exist_ok=True)
    for root, _dirs, files in os.walk(home):
        os.chmod(root, 0o700)
        for name in files:
            os.chmod(os.path.join(root, name), 0o600)
    return home


def _user_version(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def test_the_fixture_is_the_first_schema() -> None:
    assert SCHEMA_VERSION > 1
    assert _user_version(FIXTURE / "jobcore.db") == 1
    assert sorted(p.name for p in (FIXTURE / "jobs").iterdir()) == sorted(COMMANDS)


def test_store_migrates_it_and_reads_every_job_as_written(old_home: Path) -> None:
    with Store(StateDir(old_home)) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        jobs = store.list_jobs()
        assert [j.id for j in jobs] == NEWEST_FIRST
        by_id = {j.id: j for j in jobs}
        for job_id, command in COMMANDS.items():
            job = by_id[job_id]
            assert job.command == command
            assert job.cwd == "/"
            assert job.queue.group == "default"
            assert job.spec == {}
            assert job.worker is not None and job.command_proc is not None
        # No reading command has run yet: LOST still says what its dead worker left.
        assert by_id[LOST].status is JobStatus.RUNNING
        assert by_id[LOST].finished_at is None
        render = by_id[RENDER]
        assert (render.name, render.env) == ("render", {"GREETING": "hello"})
        assert (render.total, render.done, render.errors) == (4, 3, 1)
        assert render.current_item == "c.txt"
        assert render.started_at is not None and render.finished_at is not None
        assert render.run_s == pytest.approx(render.finished_at - render.started_at)
        for job_id in (FAILED, NAP, KILLED):
            status, reason, exit_code = ENDINGS[job_id]
            job = by_id[job_id]
            assert (job.status.value, job.reason, job.exit_code) == (status, reason, exit_code)
        assert store.samples(RENDER) == []  # wall-clock samples are dropped by a migration
        assert store.conn.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0
    assert (old_home / "jobcore.db").stat().st_mode & 0o777 == 0o600


def test_ls_and_show_read_each_old_job(cli: CLI, old_home: Path) -> None:
    listed = cli.ls()
    assert [j["id"] for j in listed] == NEWEST_FIRST
    for job in listed:
        status, reason, exit_code = ENDINGS[job["id"]]
        assert (job["status"], job["reason"], job["exit_code"]) == (status, reason, exit_code)
        assert job["command"] == COMMANDS[job["id"]]
        assert job["group"] == "default"
        assert job["batch"] is None
    assert [j["name"] for j in listed] == ["lost", None, "nap", None, "render"]
    render = cli.show(RENDER)
    assert (render["total"], render["done"], render["errors"]) == (4, 3, 1)
    assert render["current_item"] == "c.txt"
    assert render["env"] == {"GREETING": "hello"}
    assert render["log"] == str(old_home / "jobs" / RENDER / "output.log")
    assert _user_version(old_home / "jobcore.db") == SCHEMA_VERSION

    table = cli("ls").stdout.splitlines()
    assert [line.split()[0] for line in table[1:]] == NEWEST_FIRST
    assert "worker died unexpectedly" in table[1] and "exited with code 3" in table[4]
    assert "3/4 (75%)" in table[5]
    text = cli("show", RENDER).stdout
    for expected in (
        "status  completed",
        "env  GREETING=hello",
        "progress  3/4 (75%)",
        "exit code  0",
        "current item  c.txt",
    ):
        assert expected in text
    events = cli("events", LOST).stdout
    assert "failed" in events and "worker died unexpectedly" in events


def test_doctor_finds_only_the_lost_worker_and_repairs_it(cli: CLI, old_home: Path) -> None:
    """The job folders the first release wrote are all today's doctor expects."""
    found = cli("doctor", "--json", check=False)
    assert found.returncode == 1
    assert [(f["kind"], f["job_id"]) for f in json.loads(found.stdout)] == [("dead-worker", LOST)]
    cli("doctor", "--fix")
    assert json.loads(cli("doctor", "--json").stdout) == []
    lost = cli.show(LOST)
    assert (lost["status"], lost["reason"]) == ENDINGS[LOST][:2]


def test_logs_and_failures_of_old_jobs(cli: CLI, old_home: Path) -> None:
    for job_id, text in LOGS.items():
        assert cli("logs", job_id).stdout == text
    assert cli("wait", RENDER, check=False).returncode == 0
    assert cli("wait", FAILED, check=False).returncode == 1
    failures = json.loads(cli("failures", "--json").stdout)
    assert [(f["job_id"], f["exit_code"], f["error"]) for f in failures] == [
        (job_id, ENDINGS[job_id][2], ENDINGS[job_id][1]) for job_id in (LOST, KILLED, FAILED)
    ]
    assert failures[2]["command"] == COMMANDS[FAILED]
    assert all(f["index"] is None for f in failures)  # one-command jobs: no items


def test_rm_and_clean_remove_old_jobs_and_their_folders(cli: CLI, old_home: Path) -> None:
    cli("rm", KILLED)
    assert not (old_home / "jobs" / KILLED).exists()
    removed = json.loads(cli("clean", "--status", "failed", "--json").stdout)
    assert sorted(j["id"] for j in removed) == sorted([LOST, FAILED])
    assert [j["id"] for j in cli.ls("--all")] == [NAP, RENDER]
    assert sorted(p.name for p in (old_home / "jobs").iterdir()) == sorted([NAP, RENDER])


def test_old_jobs_resume_and_restart_and_new_ones_run(cli: CLI, old_home: Path) -> None:
    fresh = cli.run("sh", "-c", "echo fresh; echo '::progress 2/2'")
    done = cli.wait_status(fresh, {"completed", "failed"})
    assert (done["status"], done["done"], done["total"]) == ("completed", 2, 2)
    assert cli("logs", fresh).stdout == "fresh\n"
    assert cli.ls()[0]["id"] == fresh and fresh not in COMMANDS

    cli("restart", RENDER)
    again = cli.ls()[0]
    assert again["id"] not in (fresh, RENDER)
    again = cli.wait_status(again["id"], {"completed", "failed"})
    assert (again["status"], again["name"]) == ("completed", "render")
    assert again["env"] == {"GREETING": "hello"}
    assert (again["total"], again["done"], again["errors"]) == (4, 3, 1)
    assert cli("logs", again["id"]).stdout == LOGS[RENDER]

    cli("resume", NAP)
    cli.wait_command(NAP)
    log = old_home / "jobs" / NAP / "output.log"
    wait_for(lambda: log.read_text().count("napping") == 2)
    assert "--- jobcore: resumed at" in log.read_text()
    cli("stop", NAP)
    nap = cli.show(NAP)
    assert (nap["status"], nap["reason"]) == ("paused", "stopped by user")
