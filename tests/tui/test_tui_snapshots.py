"""How the dashboard looks, from fixed rows and a fixed clock (update: --snapshot-update)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from jobcore.state.models import JobStatus
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from jobtui.widgets.confirm import ConfirmDialog
from jobtui.widgets.log_view import LogLines
from tests.tui.conftest import cell, fixed_jobs, insert_job, snapshot_app, wait_until

pytestmark = pytest.mark.usefixtures("utc")


@pytest.fixture
def app(state: StateDir, store: Store):  # type: ignore[no-untyped-def]
    fixed_jobs(state, store)
    return snapshot_app(state)


async def loaded(pilot: Pilot[Any]) -> None:
    """Wait for the rows; name the state folder the same way in every run."""
    await wait_until(pilot, lambda: cell(pilot.app, "k3x9q", "id"))  # type: ignore[arg-type]
    pilot.app.sub_title = "~/.local/share/jobcore · snapshot"
    await pilot.pause()


def test_dashboard(app, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, terminal_size=(120, 32), run_before=loaded)


def test_dashboard_at_80x24(app, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, terminal_size=(80, 24), run_before=loaded)


def test_dashboard_at_60x20(app, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, terminal_size=(60, 20), run_before=loaded)


def test_groups_held_jobs_marks_and_sort(state, store, snap_compare) -> None:  # type: ignore[no-untyped-def]
    fixed_jobs(state, store)
    with store.write() as conn:
        conn.execute("INSERT INTO groups (name, parallel, paused) VALUES ('gpu', 2, 1)")
        conn.execute("UPDATE jobs SET grp = 'gpu' WHERE id IN ('k3x9q', 'q2wer')")
    insert_job(store, "h0ld1", "publish-site", JobStatus.QUEUED, held=1)

    async def marked(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("space", "a")  # mark the first job, then sort by name
        await wait_until(pilot, lambda: pilot.app.model.sort == "name")  # type: ignore[attr-defined]
        await pilot.pause()

    app = snapshot_app(state)
    assert snap_compare(app, terminal_size=(120, 32), run_before=marked)


def test_full_screen_log_with_a_search(app, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def searched(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("j", "L")  # the second running job is the one with a log
        lines = await wait_until(pilot, lambda: pilot.app.screen.query(LogLines).first())
        await wait_until(pilot, lambda: len(lines.log_file) > 10)
        await pilot.press("slash", *"Fra:200", "enter")
        await wait_until(pilot, lambda: lines.current is not None)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 24), run_before=searched)


def test_dashboard_light_theme(app, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def light(pilot: Pilot[Any]) -> None:
        pilot.app.theme = "textual-light"
        await loaded(pilot)

    assert snap_compare(app, terminal_size=(110, 32), run_before=light)


def test_detail_with_log_tail(app, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def detail(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("j", "enter")  # the second running job is the one with a log
        log = pilot.app.query_one("#detail-log")
        await wait_until(pilot, lambda: len(log.lines) > 10)
        await wait_until(pilot, lambda: pilot.app.query_one("#detail").border_title)
        await wait_until(pilot, lambda: log.is_vertical_scroll_end)
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=(110, 36), run_before=detail)


def test_kill_confirmation(app, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def kill(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("K")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 30), run_before=kill)


def test_help_screen(app, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app, terminal_size=(100, 30), press=["question_mark"], run_before=loaded)


def test_filtered(app, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def filtered(pilot: Pilot[Any]) -> None:
        await loaded(pilot)
        await pilot.press("slash", *"check", "enter")
        await wait_until(pilot, lambda: cell(pilot.app, "k3x9q", "id") is None)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 24), run_before=filtered)
