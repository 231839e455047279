"""Cancelled is not failed: a queued job killed (or removed) before it ever started."""

from __future__ import annotations

from tests.conftest import CLI, wait_for


def _queued_behind_a_blocker(cli: CLI) -> tuple[str, str]:
    cli("group", "add", "gate", "--parallel", "1")
    blocker = cli.run("sleep", "300", opts=("--group", "gate"))
    cli.wait_status(blocker, {"running"})
    waiting = cli.run("true", opts=("--group", "gate"))
    wait_for(lambda: cli.show(waiting)["waiting_on"] == "slot")
    return blocker, waiting


def test_killing_a_queued_job_cancels_it(cli: CLI) -> None:
    blocker, waiting = _queued_behind_a_blocker(cli)
    proc = cli("kill", waiting)
    assert f"job {waiting} is cancelled" in proc.stderr
    data = cli.show(waiting)
    assert data["status"] == "cancelled" and data["error"] is None
    assert data["started_at"] is None
    assert cli.ls("--status", "cancelled")[0]["id"] == waiting
    assert waiting not in cli("failures", "--json").stdout
    events = cli("events", waiting).stdout
    assert "cancelled" in events and "killed" not in events
    cli("kill", blocker)
    assert cli.show(blocker)["status"] == "failed"  # it ran: killed, not cancelled


def test_wait_reports_a_cancelled_job_on_its_own_line(cli: CLI) -> None:
    blocker, waiting = _queued_behind_a_blocker(cli)
    cli("kill", waiting, blocker)
    proc = cli("wait", waiting, blocker, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert any(line.startswith(f"job {waiting} was cancelled") for line in lines), lines
    assert any(line.startswith(f"job {blocker} did not complete: failed") for line in lines)


def test_a_job_after_a_cancelled_one_fails_saying_so(cli: CLI) -> None:
    blocker, waiting = _queued_behind_a_blocker(cli)
    after = cli.run("true", opts=("--after", waiting))
    cli("kill", waiting)
    data = cli.wait_status(after, {"failed", "completed"})
    assert data["error"] == f"dependency {waiting} cancelled"
    cli("kill", blocker)


def test_ls_and_clean_know_cancelled(cli: CLI) -> None:
    blocker, waiting = _queued_behind_a_blocker(cli)
    cli("kill", waiting, blocker)
    assert "cancelled" in cli("ls").stdout
    assert waiting in cli("clean", "--json").stdout
