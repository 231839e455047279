"""The --json shapes scripts rely on: ls is an array, show an object, with stable keys/types."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from tests.conftest import CLI
from tests.reliability.support import job_by_hand

REQUIRED = {
    "id": str,
    "name": (str, type(None)),
    "status": str,
    "pid": (int, type(None)),
    "command": list,
    "cwd": str,
    "created_at": str,
    "started_at": (str, type(None)),
    "finished_at": (str, type(None)),
    "exit_code": (int, type(None)),
    "error": (str, type(None)),
    "total": (int, type(None)),
    "done": int,
    "errors": int,
    "current_item": (str, type(None)),
    "rate": (float, int, type(None)),
    "eta_s": (float, int, type(None)),
}
TIMES = ("created_at", "started_at", "finished_at")


def check_shape(job: dict[str, Any]) -> None:
    missing = set(REQUIRED) - set(job)
    assert not missing, missing
    for key, kind in REQUIRED.items():
        assert isinstance(job[key], kind), (key, job[key])
    assert all(isinstance(part, str) for part in job["command"])
    assert job["status"] in {"queued", "running", "paused", "completed", "failed"}
    for key in TIMES:
        if job[key] is not None:
            parsed = datetime.fromisoformat(job[key])
            assert parsed.tzinfo is not None, job[key]  # an offset, never a naive time
    if job["started_at"] and job["finished_at"]:
        assert datetime.fromisoformat(job["started_at"]) <= datetime.fromisoformat(
            job["finished_at"]
        )
    if job["total"] is not None:
        assert 0 <= job["done"] <= job["total"]


def test_ls_json_is_an_array_of_job_objects(cli: CLI, tmp_path) -> None:
    proc = cli("ls", "--json")
    assert json.loads(proc.stdout) == [] and proc.stderr == ""
    ok = cli.run(
        "sh",
        "-c",
        "echo ::total 4; echo ::progress 3/4 c.txt; echo done",
        opts=("--name", "json-ok"),
    )
    bad = cli.run("sh", "-c", "exit 7")
    running = cli.run("sleep", "300", opts=("--cwd", str(tmp_path)))
    cli.wait_status(ok, {"completed"})
    cli.wait_status(bad, {"failed"})
    cli.wait_status(running, {"running"})
    jobs = cli.ls()
    assert isinstance(jobs, list) and [j["id"] for j in jobs] == [running, bad, ok]
    for job in jobs:
        check_shape(job)
    by_id = {j["id"]: j for j in jobs}
    assert by_id[ok]["name"] == "json-ok" and by_id[ok]["command"][:2] == ["sh", "-c"]
    assert (by_id[ok]["total"], by_id[ok]["done"], by_id[ok]["current_item"]) == (4, 3, "c.txt")
    assert by_id[ok]["exit_code"] == 0 and by_id[ok]["error"] is None
    assert by_id[bad]["error"] == "exited with code 7" and by_id[bad]["exit_code"] == 7
    assert by_id[running]["pid"] > 0 and by_id[running]["finished_at"] is None
    assert by_id[running]["cwd"] == str(tmp_path)
    assert by_id[running]["command"] == ["sleep", "300"]
    # Filters keep the shape.
    only = json.loads(cli("ls", "--json", "--status", "failed").stdout)
    assert [j["id"] for j in only] == [bad]
    cli("kill", running)


def test_show_json_is_one_object(cli: CLI, state: StateDir, store: Store) -> None:
    job_id = cli.run("sh", "-c", "printf 'x\\n'", opts=("--env", "A=1"))
    data = cli.wait_status(job_id, {"completed"})
    assert isinstance(data, dict)
    check_shape(data)
    assert data["id"] == job_id and data["env"] == {"A": "1"}
    assert data["log"] == str(state.log_path(job_id))
    assert datetime.fromisoformat(data["created_at"]) <= datetime.fromisoformat(data["started_at"])
    # A queued job that never started: the nulls are there, not missing.
    queued = job_by_hand(state, store, ["true"])
    data = cli.show(queued.id)
    check_shape(data)
    assert data["status"] == "queued"
    assert data["pid"] is None and data["started_at"] is None and data["exit_code"] is None
    assert data["rate"] is None and data["eta_s"] is None and data["total"] is None


def test_json_is_utf8_and_survives_odd_names(cli: CLI) -> None:
    job_id = cli.run("true", opts=("--name", 'ü "quoted" \\ 日本'))
    cli.wait_status(job_id, {"completed"})
    assert cli.show(job_id)["name"] == 'ü "quoted" \\ 日本'


def test_logs_json_gives_the_lines_and_items(cli: CLI, tmp_path) -> None:
    job_id = cli.run("sh", "-c", "printf 'one\\ntwo\\n\\377bad\\n'")
    cli.wait_status(job_id, {"completed"})
    data = json.loads(cli("logs", "--json", "-n", "2", job_id).stdout)
    assert data == {"id": job_id, "item": None, "lines": ["two", "\ufffdbad"]}
    items = tmp_path / "items.txt"
    items.write_text("a b\nc\n")
    batch = cli.run("sh", "-c", 'echo "hello $0"', "{}", opts=("--each", str(items)))
    cli.wait_status(batch, {"completed"})
    data = json.loads(cli("logs", "--json", "--item", "a b", batch).stdout)
    assert data == {"id": batch, "item": "a b", "lines": ["hello a b"]}
    proc = cli("logs", "--json", "-f", job_id, check=False)
    assert proc.returncode == 2 and "does not go with -f" in proc.stderr


def test_ls_json_all_is_exactly_each_jobs_to_json(cli: CLI, state: StateDir, store: Store) -> None:
    """``ls --json --all`` builds its objects straight from rows: the same as ``to_json``."""
    from jobcore.procs.identity import self_identity
    from jobcore.state.models import QueueSpec

    # The queued rows are held by this process, as a launcher holds a job it is writing: the
    # dispatcher that `ls` wakes would otherwise start (and fail) them between two reads.
    me = self_identity()

    cli("group", "add", "renders", "--parallel", "1")
    token = "ghp_" + "a" * 36
    store.create_job(
        ["echo", token],
        "/",
        {"API_TOKEN": "s3cret-value", "MODE": "x"},
        "masked",
        masked={"command": ["echo", "***"]},
        redact=["MODE"],
        held_by=me,
    )
    store.create_job(
        ["curl", f"https://u:{token}@example.com"],
        "/tmp",
        {},
        None,
        on_done=f"notify {token}",
        held_by=me,
    )
    store.create_job(
        ["true"],
        "/",
        {"A": "1"},
        "grouped",
        queue=QueueSpec("renders", 3, ("abcde",), 1_700_000_000.25),
        on_done="echo done",
        masked={"on_done": "echo ***"},
        held_by=me,
    )
    store.create_job(
        [],
        "/",
        {},
        "batch",
        spec={"each": 3, "parallel": 2, "call": "m:f"},
        items=["a", "b", "c"],
        held_by=me,
    )
    job_by_hand(
        state,
        store,
        ["sleep", "1"],
        status="failed",
        reason="exited with code 1",
        exit_code=1,
        started_at=1_700_000_001.5,
        finished_at=1_700_000_009.999,
        total=10,
        done=4,
        errors=1,
        current_item="x",
        rate=0.5,
        eta_s=12.0,
        progress_at=1_700_000_008.0,
    )
    job_by_hand(
        state,
        store,
        ["sleep", "1"],
        status="paused",
        reason="stopped by user",
        paused_until=1_800_000_000.0,
    )
    expected = [job.to_json() for job in store.list_jobs()]
    # In a pipe the list is written as text (jobcore.state.json_text): byte for byte what
    # json.dumps writes of the objects.
    assert cli("ls", "--json", "--all").stdout == json.dumps(expected, ensure_ascii=False) + "\n"
    assert store.list_json() == expected
    assert store.list_json(["paused", "failed"]) == [
        job.to_json() for job in store.list_jobs(["paused", "failed"])
    ]
    failed = [job.to_json() for job in store.list_jobs(["failed"])]
    assert cli("ls", "--json", "--status", "failed").stdout == json.dumps(failed) + "\n"
