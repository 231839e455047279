"""The dashboard stays calm: bursts of endings, the first read, and a footer that fits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from jobcore.state.models import JobStatus
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from jobtui import app_live
from jobtui.app import JobApp
from tests.conftest import CLI
from tests.tui.conftest import fixed_jobs, panel_of, snapshot_app, wait_until

WAIT_FOR_GO = "while [ ! -e go ]; do sleep 0.05; done"


def ending_toasts(app: JobApp) -> list[str]:
    return [n.title for n in app._notifications if "job" in n.title]


def running_until_go(cli: CLI, tmp_path: Path, count: int) -> list[str]:
    """``count`` jobs running until ``tmp_path/go`` exists."""
    ids = [cli.run("sh", "-c", WAIT_FOR_GO, opts=("--cwd", str(tmp_path))) for _ in range(count)]
    for job_id in ids:
        cli.wait_status(job_id, {"running"})
    return ids


async def end_together(pilot: Any, app: JobApp, ids: list[str], tmp_path: Path) -> None:
    """Once the app shows every one of ``ids`` running, let them all end at once."""
    await wait_until(pilot, lambda: all(panel_of(app, j) is JobStatus.RUNNING for j in ids))
    (tmp_path / "go").touch()


async def test_many_jobs_ending_at_once_make_one_toast(
    cli: CLI, state: StateDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Five workers record their ends a few hundred ms apart on a loaded machine: the window
    # that gathers them is widened, what is tested is that gathered endings make one toast.
    monkeypatch.setattr(app_live, "ENDINGS_GATHER_S", 3.0)
    ids = running_until_go(cli, tmp_path, 5)
    app = JobApp(state)
    async with app.run_test(size=(120, 40)) as pilot:
        await end_together(pilot, app, ids, tmp_path)
        await wait_until(pilot, lambda: all(panel_of(app, j) is JobStatus.COMPLETED for j in ids))
        # Every ending has been seen (all rows moved) and none is left ungathered.
        await wait_until(pilot, lambda: ending_toasts(app) and not app._endings, 5)
        assert ending_toasts(app) == ["5 jobs completed"]


async def test_a_few_jobs_ending_get_a_toast_each(
    cli: CLI, state: StateDir, tmp_path: Path
) -> None:
    ids = running_until_go(cli, tmp_path, 2)
    app = JobApp(state)
    async with app.run_test(size=(120, 40)) as pilot:
        await end_together(pilot, app, ids, tmp_path)
        await wait_until(pilot, lambda: len(ending_toasts(app)) == 2, 5)
        assert sorted(ending_toasts(app)) == sorted(f"job {j} completed" for j in ids)


async def test_loading_is_shown_until_the_first_read(
    state: StateDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = JobApp(state, live=False)
    release = asyncio.Event()
    read = app.reader.read

    async def slow_read(*args, **kw):  # type: ignore[no-untyped-def]
        await release.wait()
        return await read(*args, **kw)

    monkeypatch.setattr(app.reader, "read", slow_read)
    async with app.run_test(size=(100, 24)) as pilot:
        hint = app.query_one("#empty", Static)
        await wait_until(pilot, lambda: "Loading" in str(hint.content))  # the read is held
        assert "No jobs" not in str(hint.content)
        release.set()
        await wait_until(pilot, lambda: "No jobs yet" in str(hint.content))


@pytest.mark.parametrize("width", [120, 80, 60])
async def test_the_footer_keeps_quit_and_help(state: StateDir, store: Store, width: int) -> None:
    fixed_jobs(state, store)
    app = snapshot_app(state)
    async with app.run_test(size=(width, 24)) as pilot:
        await wait_until(pilot, lambda: app.selected_id)
        await pilot.pause()  # the footer is laid out for the selection's keys
        keys = [k for k in app.screen.query(FooterKey) if k.display]
        # The palette key is docked right, over whatever reaches under it.
        right = min([k.region.x for k in keys if k.has_class("-command-palette")] + [width])
        shown = {k.key_display for k in keys if k.region.right <= right}
        assert {"q", "?"} <= shown, shown
        assert "s" in shown  # the selected running job's stop key still fits
