"""The queue: group limits, FIFO, priorities, dependencies, delays, wait (see test_dispatch)."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime
from pathlib import Path

from jobcore.state.store import Store
from tests.conftest import CLI, wait_for


def _running(store: Store, group: str) -> list[str]:
    return [j.id for j in store.list_jobs(["running"]) if j.queue.group == group]


def test_ten_jobs_two_at_a_time_in_fifo_order(cli: CLI, store: Store, tmp_path: Path) -> None:
    cli("group", "add", "pair", "--parallel", "2")
    order = tmp_path / "order.txt"
    ids = [
        cli.run("sh", "-c", f"echo {i} >> {order}; sleep 1", opts=("--group", "pair"))
        for i in range(10)
    ]
    most = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        jobs = [store.get(i) for i in ids]
        most = max(most, sum(j.status.value == "running" for j in jobs))
        if all(j.status.is_final for j in jobs):
            break
        time.sleep(0.1)
    assert most == 2
    jobs = [store.get(i) for i in ids]
    assert all(j.status.value == "completed" for j in jobs)
    # Two jobs started in the same instant (both slots freed at once) may echo in either
    # order; in line order means no job got ahead of another by more than that.
    echoed = [int(i) for i in order.read_text().split()]
    assert sorted(echoed) == list(range(10))
    assert all(abs(place - i) <= 1 for place, i in enumerate(echoed)), echoed


def test_a_killed_job_frees_its_slot_at_once(cli: CLI, store: Store) -> None:
    cli("group", "add", "one", "--parallel", "1")
    first = cli.run("sleep", "30", opts=("--group", "one"))
    second = cli.run("sleep", "30", opts=("--group", "one"))
    worker = cli.wait_status(first, {"running"})["pid"]
    assert store.get(second).status.value == "queued"
    killed_at = time.time()
    os.kill(worker, signal.SIGKILL)
    started = datetime.fromisoformat(cli.wait_status(second, {"running"})["started_at"])
    delay = started.timestamp() - killed_at
    print(f"slot freed by kill -9: the next job started {delay:.3f}s later")
    assert delay < 2.0


def test_raising_the_limit_starts_waiting_jobs(cli: CLI, store: Store) -> None:
    cli("group", "add", "grow", "--parallel", "1")
    ids = [cli.run("sleep", "30", opts=("--group", "grow")) for _ in range(3)]
    cli.wait_status(ids[0], {"running"})
    time.sleep(0.3)
    assert _running(store, "grow") == [ids[0]]
    cli("group", "set", "grow", "--parallel", "3")
    wait_for(lambda: len(_running(store, "grow")) == 3, timeout=5)
    cli("group", "set", "grow", "--parallel", "1")  # lowering never kills
    time.sleep(0.3)
    assert len(_running(store, "grow")) == 3
    groups = {g["name"]: g for g in __import__("json").loads(cli("group", "ls", "--json").stdout)}
    assert groups["grow"] == {
        "name": "grow",
        "parallel": 1,
        "running": 3,
        "queued": 0,
        "paused": False,
    }


def test_priority_moves_a_job_ahead(cli: CLI, tmp_path: Path) -> None:
    cli("group", "add", "solo", "--parallel", "1")
    order = tmp_path / "order.txt"
    blocker = cli.run("sleep", "30", opts=("--group", "solo"))
    cli.wait_status(blocker, {"running"})
    low = cli.run("sh", "-c", f"echo low >> {order}", opts=("--group", "solo"))
    high = cli.run("sh", "-c", f"echo high >> {order}", opts=("--group", "solo", "--priority", "5"))
    for job_id in (low, high):
        wait_for(lambda job_id=job_id: cli.show(job_id)["waiting_on"] == "slot")
    cli("kill", blocker)
    for job_id in (low, high):
        cli.wait_status(job_id, {"completed"})
    assert order.read_text().split() == ["high", "low"]


def test_after_chains_and_failed_dependency(cli: CLI) -> None:
    first = cli.run("sleep", "2")
    second = cli.run("true", opts=("--after", first))
    wait_for(lambda: "waiting for " + first in cli("ls").stdout)
    assert cli.wait_status(second, {"completed", "failed"})["status"] == "completed"
    assert cli.show(second)["started_at"] >= cli.show(first)["finished_at"]
    bad = cli.run("false")
    after_bad = cli.run("true", opts=("--after", f"{first},{bad}"))
    data = cli.wait_status(after_bad, {"completed", "failed"})
    assert data["error"] == f"dependency {bad} failed"
    proc = cli("run", "--after", "zzzzz", "--", "true", check=False)
    assert proc.returncode == 1 and "no job with id 'zzzzz'" in proc.stderr


def test_delay_holds_the_job_back(cli: CLI) -> None:
    started = time.time()
    job_id = cli.run("true", opts=("--delay", "1.5s"))
    wait_for(lambda: "starts at" in cli("ls").stdout, timeout=1.4)
    data = cli.wait_status(job_id, {"completed"})
    assert datetime.fromisoformat(data["started_at"]).timestamp() >= started + 1.5


def test_wait_exit_codes_and_timeout(cli: CLI) -> None:
    ok = cli.run("true")
    bad = cli.run("false")
    slow = cli.run("sleep", "30")
    assert cli("wait", ok, check=False).returncode == 0
    assert cli("wait", ok, bad, check=False).returncode == 1
    started = time.monotonic()
    assert cli("wait", slow, "--timeout", "0.5", check=False).returncode == 124
    assert time.monotonic() - started < 10


def test_stop_and_resume_a_queued_job(cli: CLI, store: Store) -> None:
    cli("group", "add", "hold", "--parallel", "1")
    blocker = cli.run("sleep", "30", opts=("--group", "hold"))
    waiting = cli.run("true", opts=("--group", "hold"))
    cli.wait_status(blocker, {"running"})
    cli("stop", waiting)
    assert cli.show(waiting)["status"] == "paused"
    cli("resume", waiting)
    assert cli.show(waiting)["status"] == "queued"
    cli("stop", "--group", "hold")
    assert {cli.show(i)["status"] for i in (blocker, waiting)} == {"paused"}
    cli("resume", "--group", "hold")
    assert cli.wait_status(blocker, {"running"})["status"] == "running"
    assert cli.show(waiting)["status"] == "queued"  # back in line behind the blocker
    cli("kill", blocker)
    assert cli.wait_status(waiting, {"completed"})["status"] == "completed"


def test_unknown_group_is_refused(cli: CLI) -> None:
    proc = cli("run", "--group", "nope", "--", "true", check=False)
    assert proc.returncode == 1 and "jobcore group add nope" in proc.stderr
    proc = cli("group", "add", "bad name", check=False)
    assert proc.returncode == 2


def test_kill_of_a_queued_job_cancels_it(cli: CLI) -> None:
    cli("group", "add", "gate", "--parallel", "1")
    blocker = cli.run("sleep", "30", opts=("--group", "gate"))
    waiting = cli.run("true", opts=("--group", "gate"))
    cli.wait_status(blocker, {"running"})
    wait_for(lambda: cli.show(waiting)["waiting_on"] == "slot")
    cli("kill", waiting)
    data = cli.show(waiting)
    assert (data["status"], data["reason"]) == ("cancelled", "cancelled before it started")
    events = json.loads(cli("events", "--json", waiting).stdout)
    assert [(e["kind"], e["actor"]) for e in events][-1] == ("cancelled", "user")
