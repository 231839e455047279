"""``run --hold``, ``release`` and ``start``: a job that waits for a person, and one started now."""

from __future__ import annotations

from jobcore.state.store import Store
from tests.conftest import CLI, wait_for


def test_a_held_job_stays_queued_until_released(cli: CLI, store: Store) -> None:
    held = cli.run("sleep", "30", opts=("--hold",))
    other = cli.run("sleep", "30")  # a free slot, and the queue looked at again
    cli.wait_status(other, {"running"})
    wait_for(lambda: cli.show(held)["waiting_on"] == "held")  # the queue looked at it
    shown = cli.show(held)
    assert shown["status"] == "queued"
    assert shown["waiting_on"] == "held"
    assert "held" in cli("ls").stdout
    result = cli("release", held)
    assert f"job {held}" in result.stderr
    cli.wait_status(held, {"running"})


def test_release_of_a_job_not_held_is_an_error(cli: CLI) -> None:
    job = cli.run("sleep", "30")
    cli.wait_status(job, {"running"})
    result = cli("release", job, check=False)
    assert result.returncode == 1
    assert "not held" in result.stderr


def test_start_skips_a_delay(cli: CLI) -> None:
    job = cli.run("sleep", "30", opts=("--delay", "1h"))
    wait_for(lambda: cli.show(job)["waiting_on"] == "delay")  # the queue looked at it
    assert cli.show(job)["status"] == "queued"
    cli("start", job)
    cli.wait_status(job, {"running"})


def test_start_starts_a_held_job(cli: CLI) -> None:
    job = cli.run("sleep", "30", opts=("--hold",))
    cli("start", job)
    cli.wait_status(job, {"running"})


def test_start_in_a_full_group_waits_for_the_slot_and_jumps_the_line(
    cli: CLI, store: Store
) -> None:
    cli("group", "add", "one", "--parallel", "1")
    blocker = cli.run("sleep", "30", opts=("--group", "one"))
    cli.wait_status(blocker, {"running"})
    first = cli.run("sleep", "30", opts=("--group", "one"))
    late = cli.run("sleep", "30", opts=("--group", "one"))
    cli("start", late)
    wait_for(lambda: cli.show(late)["waiting_on"] == "slot")  # at the head, the slot taken
    assert store.get(late).status.value == "queued"
    cli("kill", blocker)
    cli.wait_status(late, {"running"})
    assert store.get(first).status.value == "queued"


def test_start_force_runs_beside_the_limit(cli: CLI, store: Store) -> None:
    cli("group", "add", "one", "--parallel", "1")
    blocker = cli.run("sleep", "30", opts=("--group", "one"))
    cli.wait_status(blocker, {"running"})
    late = cli.run("sleep", "30", opts=("--group", "one"))
    cli("start", "--force", late)
    cli.wait_status(late, {"running"})
    wait_for(lambda: store.get(blocker).status.value == "running", timeout=5)


def test_a_held_job_stopped_then_resumed_is_held_no_more(cli: CLI) -> None:
    job = cli.run("sleep", "30", opts=("--hold",))
    cli("stop", job)
    assert cli.show(job)["status"] == "paused"
    cli("resume", job)
    cli.wait_status(job, {"running"})


def test_a_held_job_cancelled_then_restarted_in_place_runs(cli: CLI) -> None:
    job = cli.run("sleep", "30", opts=("--hold",))
    cli("kill", job)
    assert cli.show(job)["status"] == "cancelled"
    cli("restart", "--in-place", job)
    cli.wait_status(job, {"running"})


def test_hold_keeps_a_waiting_job_from_starting_until_released(cli: CLI) -> None:
    job = cli.run("sleep", "30", opts=("--delay", "1h"))
    result = cli("hold", job)
    assert f"job {job} held" in result.stderr
    assert cli.show(job)["waiting_on"] == "held"
    again = cli("hold", job, check=False)
    assert again.returncode == 1
    assert "held already" in again.stderr
    cli("start", job)
    cli.wait_status(job, {"running"})
    late = cli("hold", job, check=False)
    assert late.returncode == 1
    assert "running, not waiting to start" in late.stderr
