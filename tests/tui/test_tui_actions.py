"""Every key that acts on a job, against real workers: the row shows the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Static

from jobcore.state.models import JobStatus
from jobcore.state.paths import StateDir
from jobtui.actions import JOB_ACTIONS
from jobtui.app import JobApp
from jobtui.widgets.confirm import ConfirmDialog
from jobtui.widgets.help_screen import HelpScreen
from tests.conftest import CLI
from tests.tui.conftest import cell, open_detail, panel_of, select, wait_until

SIZE = (120, 30)


def detail_text(app: JobApp) -> str:
    """The detail pane's facts as plain text (what a person reads there)."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(app.query_one("#detail-info", Static).content)
    return console.export_text()


def notified(app: JobApp, text: str) -> bool:
    return any(text in str(n.message) for n in app._notifications)


async def test_stop_pauses_a_running_job(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("sleep", "60")
    cli.wait_status(job_id, {"running"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        await pilot.press("s")
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.PAUSED, 10)
        assert app.selected_id == job_id  # the cursor followed the job into its new panel
    assert cli.show(job_id)["status"] == "paused"


async def test_resume_restarts_a_paused_job(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("sleep", "60")
    cli.wait_status(job_id, {"running"})
    cli("stop", job_id)
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        await pilot.press("r")
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.RUNNING, 10)


async def test_retry_runs_a_failed_job_again(cli: CLI, state: StateDir, tmp_path: Path) -> None:
    script = "test -f again && exec sleep 60; touch again; exit 3"
    job_id = cli.run("sh", "-c", script, opts=("--cwd", str(tmp_path)))
    cli.wait_status(job_id, {"failed"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        await wait_until(pilot, lambda: cell(app, job_id, "reason") == "exited with code 3")
        await pilot.press("R")
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.RUNNING, 10)


async def test_kill_asks_first_and_kills_on_yes(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("sleep", "60")
    cli.wait_status(job_id, {"running"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        await pilot.press("K")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.FAILED, 10)
        await wait_until(pilot, lambda: cell(app, job_id, "reason") == "killed")


async def test_kill_cancelled_leaves_the_job_running(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("sleep", "60")
    cli.wait_status(job_id, {"running"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        await pilot.press("K")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")  # No has the focus: a reflex Enter changes nothing
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        await pilot.press("K", "n")
        await pilot.pause(0.3)
        assert panel_of(app, job_id) is JobStatus.RUNNING
    assert cli.show(job_id)["status"] == "running"


async def test_keys_that_do_not_apply_are_disabled(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("true")
    cli.wait_status(job_id, {"completed"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        for action in ("stop", "resume", "retry", "kill"):
            assert app.dashboard.check_action("act", (action,)) is None
        await pilot.press("s", "K")
        assert not isinstance(app.screen, ConfirmDialog)


async def test_a_failing_action_notifies_and_the_app_survives(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("true")
    cli.wait_status(job_id, {"completed"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        app._run_action(JOB_ACTIONS["resume"], job_id)  # as if the job finished meanwhile
        await wait_until(pilot, lambda: notified(app, "nothing to resume"))
        assert app.is_running


async def test_clean_asks_then_removes_finished_jobs(cli: CLI, state: StateDir) -> None:
    done = cli.run("true")
    running = cli.run("sleep", "60")
    cli.wait_status(done, {"completed"})
    cli.wait_status(running, {"running"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, done)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: panel_of(app, done) is None, 10)
        assert panel_of(app, running) is JobStatus.RUNNING
    assert [job["id"] for job in cli.ls("--all")] == [running]


async def test_filter_by_text_and_clear_with_escape(cli: CLI, state: StateDir) -> None:
    alpha = cli.run("true", opts=("--name", "alpha-import"))
    beta = cli.run("true", opts=("--name", "beta-export"))
    cli.wait_status(beta, {"completed"})
    cli.wait_status(alpha, {"completed"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: panel_of(app, alpha) and panel_of(app, beta))
        await pilot.press("slash", *"alpha")
        await wait_until(pilot, lambda: panel_of(app, beta) is None)
        assert panel_of(app, alpha) is JobStatus.COMPLETED
        await pilot.press("enter")  # keeps the filter, back to the panels
        assert app.model.filter_text == "alpha"
        await pilot.press("escape")
        await wait_until(pilot, lambda: panel_of(app, beta) is JobStatus.COMPLETED)


async def test_group_key_cycles_through_the_groups(cli: CLI, state: StateDir) -> None:
    cli("group", "add", "renders")
    plain = cli.run("sleep", "60")
    render = cli.run("sleep", "60", opts=("--group", "renders"))
    for job_id in (plain, render):
        cli.wait_status(job_id, {"running"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: panel_of(app, plain) and panel_of(app, render))
        await pilot.press("g")  # all → default
        await wait_until(pilot, lambda: panel_of(app, render) is None)
        assert panel_of(app, plain) is JobStatus.RUNNING and app.model.group == "default"
        await pilot.press("g")  # default → renders
        await wait_until(pilot, lambda: panel_of(app, plain) is None)
        assert panel_of(app, render) is JobStatus.RUNNING and "group renders" in app.sub_title
        await pilot.press("g")  # renders → all
        await wait_until(pilot, lambda: panel_of(app, plain) and panel_of(app, render))


async def test_a_toast_says_when_a_job_ends(cli: CLI, state: StateDir, tmp_path: Path) -> None:
    gate = tmp_path / "gate"  # the job ends only once the app has seen it running
    script = f"while [ ! -e {gate} ]; do sleep 0.02; done; exit 5"
    job_id = cli.run("sh", "-c", script, opts=("--name", "nightly"))
    cli.wait_status(job_id, {"running"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.RUNNING)
        gate.touch()
        await wait_until(pilot, lambda: notified(app, "nightly: exited with code 5"))
        titles = [n.title for n in app._notifications]
        assert f"job {job_id} failed" in titles


async def test_detail_lists_a_batchs_failed_items(
    cli: CLI, state: StateDir, tmp_path: Path
) -> None:
    items = tmp_path / "items.txt"
    items.write_text("good\nbad-one\n")
    job_id = cli.run(
        "sh",
        "-c",
        'case "$0" in bad*) echo "no such file"; exit 2;; esac',
        "{}",
        opts=("--each", str(items)),
    )
    cli.wait_status(job_id, {"failed"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, app, job_id)
        await wait_until(pilot, lambda: "bad-one" in detail_text(app))
        assert "bad-one (1×) exit code 2: no such file" in detail_text(app)


async def test_detail_shows_each_running_items_own_progress(
    cli: CLI, state: StateDir, tmp_path: Path
) -> None:
    items = tmp_path / "items.txt"
    items.write_text("part-A\npart-B\n")
    gate = tmp_path / "gate"
    script = f'echo "::progress 40/80 rows of $0"; while [ ! -e {gate} ]; do sleep 0.05; done'
    job_id = cli.run("sh", "-c", script, "{}", opts=("--each", str(items), "-j", "2"))
    try:
        app = JobApp(state)
        async with app.run_test(size=SIZE) as pilot:
            await open_detail(pilot, app, job_id)
            await wait_until(pilot, lambda: "rows of part-B" in detail_text(app), 20)
            text = detail_text(app)
            assert "part-A  40/80 (50%) rows of part-A" in text
            assert "part-B  40/80 (50%) rows of part-B" in text
    finally:
        gate.touch()
    assert (cli.wait_status(job_id, {"completed"})["done"]) == 2


async def test_help_opens_and_closes(state: StateDir) -> None:
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_detail_follows_the_log_live(cli: CLI, state: StateDir) -> None:
    script = "echo first; for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.3; echo line-$i; done; sleep 60"
    job_id = cli.run("sh", "-c", script)
    cli.wait_status(job_id, {"running"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, app, job_id)
        log = app.query_one("#detail-log")
        await wait_until(pilot, lambda: "first" in log.lines)
        await wait_until(pilot, lambda: "line-3" in log.lines, 10)
        await pilot.press("l")
        assert not log.display
        await pilot.press("escape")
        assert not app.query_one("#detail").display


async def test_detail_shows_the_bar_being_rewritten_under_the_log(
    cli: CLI, state: StateDir, tmp_path: Path
) -> None:
    """A \r progress bar reaches the log only as snapshots; the pane shows it as it is now."""
    gate = tmp_path / "gate"
    script = (
        'echo start; printf "\\rcopy 1/2"; sleep 0.1; printf "\\rcopy 2/2";'
        f" while [ ! -e {gate} ]; do sleep 0.02; done; echo; sleep 60"
    )
    job_id = cli.run("sh", "-c", script)
    cli.wait_status(job_id, {"running"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, app, job_id)
        live = app.query_one("#detail-live", Static)
        await wait_until(pilot, lambda: live.display and "copy 2/2" in str(live.render()), 10)
        assert "copy 2/2" not in app.query_one("#detail-log").lines
        gate.touch()  # the line ends: it goes to the log and the live line goes away
        await wait_until(pilot, lambda: "copy 2/2" in app.query_one("#detail-log").lines, 10)
        await wait_until(pilot, lambda: not live.display, 10)


async def test_a_refresh_between_a_move_and_its_event_keeps_the_move(
    cli: CLI, state: StateDir
) -> None:
    """Moves reach the app's selection by events; a refresh landing first (jobs reporting
    several times a second) must not put the cursor back where it was."""
    first = cli.run("sleep", "60")
    second = cli.run("sleep", "60")
    done = cli.run("true")
    cli.wait_status(done, {"completed"})
    cli.wait_status(second, {"running"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        running, completed = (
            app.dashboard.lists[JobStatus.RUNNING],
            app.dashboard.lists[JobStatus.COMPLETED],
        )
        await select(pilot, app, second)  # newest first: the running panel's top row
        await pilot.pause()  # select's own focus call, if still pending, goes first
        running.move_cursor(row=1)  # down within the panel...
        app._apply(app.snapshot)  # ...and a refresh before the Highlighted event
        assert running.cursor_job_id == first
        completed.move_cursor(row=0)  # into the next panel...
        app.screen.set_focus(completed)
        app._apply(app.snapshot)  # ...and a refresh before the focus events
        assert app.focused is completed and completed.cursor_job_id == done
        await pilot.pause()  # the highlight and focus events of both moves are handled
        assert app.selected_id == done and app.focused is completed


async def test_j_and_k_move_across_panels(cli: CLI, state: StateDir) -> None:
    running = cli.run("sleep", "60")
    done = cli.run("true")
    cli.wait_status(done, {"completed"})
    cli.wait_status(running, {"running"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, running)
        await pilot.press("j")
        await wait_until(pilot, lambda: app.selected_id == done)
        await pilot.press("k")
        await wait_until(pilot, lambda: app.selected_id == running)
        await asyncio.sleep(0)


async def test_restart_runs_a_finished_job_again_as_a_new_job(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("sh", "-c", "exit 0", opts=("--name", "again"))
    cli.wait_status(job_id, {"completed"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        await pilot.press("t")
        await wait_until(pilot, lambda: notified(app, f"restarted job {job_id} as "), 10)
    jobs = cli.ls("--all")
    assert len(jobs) == 2 and {job["name"] for job in jobs} == {"again"}


async def test_rm_asks_then_removes_the_job(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("true")
    kept = cli.run("true")
    cli.wait_status(job_id, {"completed"})
    cli.wait_status(kept, {"completed"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: panel_of(app, job_id) is None, 10)
        assert panel_of(app, kept) is JobStatus.COMPLETED
    assert [job["id"] for job in cli.ls("--all")] == [kept]
    assert not state.job_dir(job_id).exists()


async def test_rm_does_not_apply_to_a_running_job(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("sleep", "60")
    cli.wait_status(job_id, {"running"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        screen = app.dashboard
        assert screen.check_action("act", ("rm",)) is None
        assert screen.check_action("act", ("restart",)) is None
        await pilot.press("x")
        assert not isinstance(app.screen, ConfirmDialog)
    assert cli.show(job_id)["status"] == "running"


async def test_the_command_palette_lists_and_runs_the_selected_jobs_actions(
    cli: CLI, state: StateDir
) -> None:
    job_id = cli.run("true", opts=("--name", "tidy"))
    cli.wait_status(job_id, {"completed"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        await pilot.press("ctrl+p", *"remove tidy")
        await wait_until(
            pilot, lambda: app.screen.query("CommandList").first().highlighted is not None
        )
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: panel_of(app, job_id) is None, 10)
    assert cli.ls("--all") == []


RENAMING_EDITOR = r"""#!/bin/sh
grep -v '^name = ' "$1" > "$1.new"
{ echo 'name = "from-editor"'; cat "$1.new"; } > "$1"
"""


async def test_edit_opens_the_editor_and_changes_the_job(
    cli: CLI, state: StateDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = tmp_path / "editor"
    editor.write_text(RENAMING_EDITOR)
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)
    job_id = cli.run("true", opts=("--delay", "1h", "--name", "before"))
    app = JobApp(state)
    # A headless app cannot give the terminal away; what runs inside is the same.
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        await pilot.press("e")
        await wait_until(pilot, lambda: notified(app, f"job {job_id} edited"), 20)
        await wait_until(pilot, lambda: cell(app, job_id, "name") == "from-editor")
    assert cli.show(job_id)["name"] == "from-editor"


async def test_edit_does_not_apply_to_a_running_job(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("sleep", "60")
    cli.wait_status(job_id, {"running"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        assert app.dashboard.check_action("edit", ()) is None
