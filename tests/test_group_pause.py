"""``group pause`` and ``group resume``: a group whose waiting jobs wait for a person."""

from __future__ import annotations

import json
import time

from jobcore.store import Store
from tests.conftest import CLI


def test_a_paused_group_starts_nothing_new_and_lets_running_jobs_finish(
    cli: CLI, store: Store
) -> None:
    cli("group", "add", "gpu", "--parallel", "2")
    running = cli.run("sleep", "30", opts=("--group", "gpu"))
    cli.wait_status(running, {"running"})
    cli("group", "pause", "gpu")
    waiting = cli.run("sleep", "30", opts=("--group", "gpu"))
    time.sleep(0.5)
    assert store.get(waiting).status.value == "queued"
    assert cli.show(waiting)["waiting_on"] == "paused"
    assert store.get(running).status.value == "running"
    groups = {g["name"]: g for g in json.loads(cli("group", "ls", "--json").stdout)}
    assert groups["gpu"]["paused"] is True
    cli("group", "resume", "gpu")
    cli.wait_status(waiting, {"running"})


def test_pause_now_stops_the_running_jobs(cli: CLI, store: Store) -> None:
    cli("group", "add", "gpu", "--parallel", "1")
    running = cli.run("sleep", "30", opts=("--group", "gpu"))
    cli.wait_status(running, {"running"})
    waiting = cli.run("sleep", "30", opts=("--group", "gpu"))
    result = cli("group", "pause", "gpu", "--now")
    assert f"job {running}" in result.stderr
    cli.wait_status(running, {"paused"})
    time.sleep(0.5)
    assert store.get(waiting).status.value == "queued"


def test_pause_of_an_unknown_group_is_an_error(cli: CLI) -> None:
    result = cli("group", "pause", "nope", check=False)
    assert result.returncode == 1
    assert "no group" in result.stderr
