"""Acting like k9s: marks and bulk actions, sort, copying ids, held jobs and paused groups."""

from __future__ import annotations

import psutil

from jobcore.state.models import JobStatus
from jobcore.state.paths import StateDir
from jobtui.app import JobApp
from jobtui.widgets.confirm import ConfirmDialog
from jobtui.widgets.job_list import JobList
from tests.conftest import CLI
from tests.tui.conftest import cell, panel_of, select, wait_until

SIZE = (120, 30)


def summary(app: JobApp) -> str:
    return str(app.dashboard.summary.content)


async def test_space_marks_jobs_and_kill_acts_on_all_with_one_question(
    cli: CLI, state: StateDir
) -> None:
    ids = [cli.run("sleep", "60") for _ in range(3)]
    for job_id in ids:
        cli.wait_status(job_id, {"running"})
    pids = [cli.show(job_id)["command_pid"] for job_id in ids]
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, ids[-1])  # newest first: the top row
        await pilot.press("space", "space")  # marks it and moves on, marks the next
        await wait_until(pilot, lambda: len(app.model.marks) == 2)
        assert cell(app, ids[-1], "mark") == "●" and cell(app, ids[0], "mark") == ""
        assert "2 marked" in summary(app)
        await pilot.press("K")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "Kill 2 marked jobs" in app.screen.question
        await pilot.press("y")
        await wait_until(
            pilot,
            lambda: (
                panel_of(app, ids[2]) is JobStatus.FAILED
                and panel_of(app, ids[1]) is JobStatus.FAILED
            ),
            15,
        )
        assert panel_of(app, ids[0]) is JobStatus.RUNNING  # not marked: left alone
        await wait_until(pilot, lambda: not app.model.marks)  # done with, the marks go
    assert [cli.show(job_id)["status"] for job_id in ids] == ["running", "failed", "failed"]
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids[1:]
    )


async def test_escape_clears_the_marks(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("true")
    cli.wait_status(job_id, {"completed"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        await pilot.press("space")
        await wait_until(pilot, lambda: app.model.marks == {job_id})
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.model.marks and cell(app, job_id, "mark") == "")


async def test_a_cycles_the_sort_order_shown_in_the_header(cli: CLI, state: StateDir) -> None:
    ids = {name: cli.run("true", opts=("--name", name)) for name in ("bravo", "alpha", "carol")}
    for job_id in ids.values():
        cli.wait_status(job_id, {"completed"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.dashboard.lists[JobStatus.COMPLETED]
        await wait_until(pilot, lambda: panel.row_count == 3)
        assert [r.job.label for r in panel.rows] == ["carol", "alpha", "bravo"]  # newest first
        await select(pilot, app, ids["alpha"])
        await pilot.press("a")
        await wait_until(pilot, lambda: [r.job.label for r in panel.rows] == sorted(ids))
        assert "NAME ▾" in panel.render_line(0).text and "sort: name" in summary(app)
        assert app.selected_id == ids["alpha"] and panel.cursor_job_id == ids["alpha"]


async def test_y_copies_the_selected_id(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("true")
    cli.wait_status(job_id, {"completed"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        await pilot.press("y")
        await wait_until(pilot, lambda: app.clipboard == job_id)


async def test_held_jobs_and_paused_groups_show_and_the_palette_resumes_the_group(
    cli: CLI, state: StateDir
) -> None:
    held = cli.run("true", opts=("--hold",))
    cli("group", "add", "gpu")
    cli("group", "pause", "gpu")
    queued = cli.run("true", opts=("--group", "gpu", "--name", "next-on-gpu"))
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: cell(app, held, "status") == "held")
        assert cell(app, held, "reason").startswith("held")
        assert cell(app, queued, "group") == "gpu paused"
        assert cell(app, queued, "reason").startswith("group gpu paused")
        assert "1 held" in summary(app) and "group gpu paused" in summary(app)
        await select(pilot, app, queued)
        await pilot.press("ctrl+p", *"resume group gpu")
        await wait_until(
            pilot, lambda: app.screen.query("CommandList").first().highlighted is not None
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: panel_of(app, queued) is JobStatus.COMPLETED, 15)
        assert "group gpu paused" not in summary(app)
        assert isinstance(app.focused, JobList)
