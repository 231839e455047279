"""The dashboard follows the state folder by itself: no key is pressed in these tests."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from jobcore.state.models import JobStatus
from jobcore.state.paths import StateDir
from jobtui.app import JobApp
from jobtui.watcher import CALM_STEP_MS, LIVE_STEP_MS, StateWatcher
from tests.conftest import CLI
from tests.tui.conftest import cell, panel_of, wait_until


class BrokenWatcher:
    """A watcher that cannot start, like the 129th inotify instance."""

    async def changes(self):  # type: ignore[no-untyped-def]
        raise OSError(24, "Too many open files")
        yield

    def pace(self, live: bool) -> None:
        pass

    def stop(self) -> None:
        pass


async def report(cli: CLI, monkeypatch: pytest.MonkeyPatch, job_id: str, *args: str) -> None:
    """``jobcore progress`` in another process, as a script inside the job would run it."""
    monkeypatch.setenv("JOBCORE_JOB_ID", job_id)
    await asyncio.to_thread(cli, "progress", *args)
    monkeypatch.delenv("JOBCORE_JOB_ID")


async def test_progress_from_another_process_appears_with_no_key_pressed(
    cli: CLI, state: StateDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = cli.run("sleep", "60")
    cli.wait_status(job_id, {"running"})
    app = JobApp(state)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.RUNNING)
        await report(cli, monkeypatch, job_id, "--total", "10", "--done", "7", "--item", "c-7")
        await wait_until(pilot, lambda: "7/10" in (cell(app, job_id, "progress") or ""), 5)
        assert cell(app, job_id, "item") == "c-7"
        assert app.watching
        assert "live" in app.sub_title


async def test_a_killed_worker_turns_its_row_failed(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("sleep", "60")
    worker_pid = cli.wait_status(job_id, {"running"})["pid"]
    app = JobApp(state)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.RUNNING)
        os.kill(worker_pid, signal.SIGKILL)
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.FAILED, 10)
        await wait_until(pilot, lambda: cell(app, job_id, "reason") == "worker died unexpectedly")


async def test_falls_back_to_polling_when_watching_cannot_start(
    cli: CLI, state: StateDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = cli.run("sleep", "60")
    cli.wait_status(job_id, {"running"})
    app = JobApp(state, watcher=BrokenWatcher())
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: not app.watching)
        assert "polling" in app.sub_title and "Too many open files" in app.sub_title
        await report(cli, monkeypatch, job_id, "--total", "4", "--done", "3")
        await wait_until(pilot, lambda: "3/4" in (cell(app, job_id, "progress") or ""), 5)


async def test_a_new_job_appears_and_a_finished_one_moves_panel(cli: CLI, state: StateDir) -> None:
    app = JobApp(state)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.2)
        assert app.query_one("#empty").display
        job_id = await asyncio.to_thread(cli.run, "sh", "-c", "sleep 0.5")
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.COMPLETED, 10)
        assert not app.query_one("#empty").display


async def test_nothing_is_re_read_while_nothing_changes(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("sh", "-c", "true")
    cli.wait_status(job_id, {"completed"})
    app = JobApp(state)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.COMPLETED)
        await pilot.pause(0.3)
        reads = app.reads
        await pilot.pause(2.0)  # longer than the safety-net poll
        assert app.reads == reads


async def test_the_watcher_is_quick_while_jobs_run_and_cheap_when_none_do(
    cli: CLI, state: StateDir
) -> None:
    app = JobApp(state)
    assert isinstance(app.watcher, StateWatcher)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.3)
        assert app.watcher.step_ms == CALM_STEP_MS
        job_id = await asyncio.to_thread(cli.run, "sleep", "60")
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.RUNNING)
        assert app.watcher.step_ms == LIVE_STEP_MS
        await asyncio.to_thread(cli, "kill", job_id)
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.FAILED)
        assert app.watcher.step_ms == CALM_STEP_MS
        # The watch restarted with each step and still delivers changes.
        done = await asyncio.to_thread(cli.run, "true")
        await wait_until(pilot, lambda: panel_of(app, done) is JobStatus.COMPLETED, 5)


async def test_elapsed_times_move_with_no_commit(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("sleep", "60")
    cli.wait_status(job_id, {"running"})
    app = JobApp(state)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.RUNNING)
        first = cell(app, job_id, "elapsed")
        await wait_until(pilot, lambda: cell(app, job_id, "elapsed") != first, 6)
