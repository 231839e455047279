"""Hold, release and start now from the dashboard (``h``, ``H``, ``S`` and the palette)."""

from __future__ import annotations

from jobcore.state.models import JobStatus
from jobcore.state.paths import StateDir
from jobtui.app import JobApp
from tests.conftest import CLI
from tests.tui.conftest import cell, panel_of, select, wait_until

SIZE = (120, 30)


def applies(app: JobApp, name: str) -> bool:
    """The key is live for the selection (greyed out in the footer and help otherwise)."""
    return bool(app.dashboard.check_action("act", (name,)))


async def test_hold_then_release_then_start_a_delayed_job(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("sleep", "60", opts=("--delay", "1h"))
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        assert applies(app, "hold") and applies(app, "start") and not applies(app, "release")
        await pilot.press("h")
        await wait_until(pilot, lambda: cell(app, job_id, "status") == "held", 10)
        assert cli.show(job_id)["waiting_on"] == "held"
        await wait_until(pilot, lambda: applies(app, "release") and not applies(app, "hold"))
        await pilot.press("H")
        await wait_until(pilot, lambda: cell(app, job_id, "status") not in (None, "held"), 10)
        assert cli.show(job_id)["status"] == "queued"  # back in line: its delay still runs
        await wait_until(pilot, lambda: applies(app, "hold"))
        await pilot.press("S")
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.RUNNING, 10)
        assert not applies(app, "start") and not applies(app, "hold")
    assert cli.show(job_id)["status"] == "running"


async def test_start_now_acts_on_every_marked_held_job(cli: CLI, state: StateDir) -> None:
    first = cli.run("sleep", "60", opts=("--hold",))
    second = cli.run("sleep", "60", opts=("--hold",))
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, first)
        await pilot.press("space")
        await select(pilot, app, second)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.model.marks == {first, second})
        await pilot.press("S")
        await wait_until(
            pilot,
            lambda: panel_of(app, first) is panel_of(app, second) is JobStatus.RUNNING,
            10,
        )
        await wait_until(pilot, lambda: not app.model.marks)


async def test_the_palette_holds_the_selected_job(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("sleep", "60", opts=("--delay", "1h", "--name", "nightly"))
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        await pilot.press("ctrl+p", *"hold nightly")
        await wait_until(
            pilot, lambda: app.screen.query("CommandList").first().highlighted is not None
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: cell(app, job_id, "status") == "held", 10)
    assert cli.show(job_id)["waiting_on"] == "held"
