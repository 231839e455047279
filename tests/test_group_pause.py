"""``group pause`` and ``group resume``: a group whose waiting jobs wait for a person; and
JOBCORE_GROUP/JOBCORE_SLOT: each running job of a limited group knows its own slot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobcore.state.store import Store
from tests.conftest import CLI, wait_for


def test_a_paused_group_starts_nothing_new_and_lets_running_jobs_finish(
    cli: CLI, store: Store
) -> None:
    cli("group", "add", "gpu", "--parallel", "2")
    running = cli.run("sleep", "30", opts=("--group", "gpu"))
    cli.wait_status(running, {"running"})
    cli("group", "pause", "gpu")
    waiting = cli.run("sleep", "30", opts=("--group", "gpu"))
    # run looks at the queue before it returns: what the job waits for is recorded then.
    wait_for(lambda: cli.show(waiting)["waiting_on"] == "paused")
    assert store.get(waiting).status.value == "queued"
    assert store.get(running).status.value == "running"
    groups = {g["name"]: g for g in json.loads(cli("group", "ls", "--json").stdout)}
    assert groups["gpu"]["paused"] is True
    cli("group", "resume", "gpu")
    cli.wait_status(waiting, {"running"})


@pytest.mark.parametrize("words", [("gpu", "--now"), ("--now", "gpu")])
def test_pause_now_stops_the_running_jobs(cli: CLI, store: Store, words: tuple[str, str]) -> None:
    cli("group", "add", "gpu", "--parallel", "1")
    running = cli.run("sleep", "30", opts=("--group", "gpu"))
    cli.wait_status(running, {"running"})
    waiting = cli.run("sleep", "30", opts=("--group", "gpu"))
    result = cli("group", "pause", *words)
    assert f"job {running}" in result.stderr
    cli.wait_status(running, {"paused"})
    wait_for(lambda: cli.show(waiting)["waiting_on"] == "paused")  # looked at, held back
    assert store.get(waiting).status.value == "queued"


def test_pause_of_an_unknown_group_is_an_error(cli: CLI) -> None:
    result = cli("group", "pause", "nope", check=False)
    assert result.returncode == 1
    assert "no group" in result.stderr


@pytest.mark.parametrize(
    "words", [("pause",), ("resume", "--now", "gpu"), ("ls", "gpu"), ("bogus", "gpu")]
)
def test_a_group_action_used_wrongly_is_a_usage_error(cli: CLI, words: tuple[str, ...]) -> None:
    result = cli("group", *words, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def _job_writing_its_slot(cli: CLI, out: Path) -> str:
    script = f'echo "$JOBCORE_GROUP $JOBCORE_SLOT" > {out}; sleep 30'
    return cli.run("sh", "-c", script, opts=("--group", "gpu"))


def test_two_jobs_of_a_parallel_2_group_never_share_a_slot(cli: CLI, tmp_path: Path) -> None:
    cli("group", "add", "gpu", "--parallel", "2")
    outs = [tmp_path / f"{i}.txt" for i in range(3)]
    first, _second = (_job_writing_its_slot(cli, out) for out in outs[:2])
    third = _job_writing_its_slot(cli, outs[2])
    wait_for(lambda: all(o.exists() and o.read_text().strip() for o in outs[:2]))
    seen = [o.read_text().split() for o in outs[:2]]
    assert sorted(seen) == [["gpu", "0"], ["gpu", "1"]]
    cli("kill", first)  # its slot goes to the third job
    cli.wait_status(third, {"running"})
    wait_for(lambda: outs[2].exists() and outs[2].read_text().strip() != "")
    assert outs[2].read_text().split() == seen[0]
