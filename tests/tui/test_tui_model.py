"""The dashboard's model and column layout, without an app: rows, marks, sort, summary, widths."""

from __future__ import annotations

import dataclasses

import pytest
from rich.console import Console
from rich.style import Style

from jobcore.state.models import JobStatus
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from jobtui.columns import CellContext, header_text, plan, row_segments, spans
from jobtui.data import Snapshot
from jobtui.model import ColumnNeeds, DashboardModel
from jobtui.usage import Usage
from jobtui.widgets.palette import Palette
from tests.tui.conftest import FIXED_NOW, fixed_jobs, insert_job


def snapshot_of(store: Store, paused_groups: frozenset[str] = frozenset()) -> Snapshot:
    """What the reader would read: every job by status (newest first) and the counts."""
    jobs = {status: [] for status in JobStatus}  # type: dict[JobStatus, list]
    for job in sorted(store.list_jobs(), key=lambda j: -j.seq):
        jobs[job.status].append(job)
    counts = {status: len(found) for status, found in jobs.items()}
    return Snapshot(jobs, counts, paused_groups)


@pytest.fixture
def model(state: StateDir, store: Store) -> DashboardModel:
    fixed_jobs(state, store)
    model = DashboardModel()
    model.update(snapshot_of(store))
    return model


def test_rows_come_newest_first_and_sort_cycles_through_the_orders(model: DashboardModel) -> None:
    assert [r.job.id for r in model.rows(JobStatus.RUNNING)] == ["m7tpa", "k3x9q"]
    assert model.cycle_sort() == "name"
    names = [r.job.label for r in model.rows(JobStatus.COMPLETED)]
    assert names == sorted(names)
    assert model.sort_column == "name"
    model.sort = "rate"
    assert [r.job.id for r in model.rows(JobStatus.RUNNING)] == ["m7tpa", "k3x9q"]  # 41/s first
    model.sort = "progress"
    assert [r.job.id for r in model.rows(JobStatus.FAILED)] == ["f4hhz", "w9nnb"]  # 34% first
    assert model.cycle_sort() == "rate" and model.cycle_sort() == "newest"  # and round again


def test_marks_choose_what_an_action_applies_to(model: DashboardModel) -> None:
    def stoppable(job):  # type: ignore[no-untyped-def]
        return job.status.is_active

    model.selected_id = "f4hhz"
    assert model.targets(stoppable) == []  # the selection alone: a failed job is not stopped
    assert model.toggle_mark("k3x9q") and model.toggle_mark("m7tpa") and model.toggle_mark("c5aaa")
    assert [j.id for j in model.targets(stoppable)] == ["k3x9q", "m7tpa"]  # marks win
    assert not model.toggle_mark("c5aaa")
    assert [r.marked for r in model.rows(JobStatus.RUNNING)] == [True, True]
    assert "2 marked" in model.summary()


def test_marks_of_jobs_that_are_gone_are_dropped(model: DashboardModel, store: Store) -> None:
    model.toggle_mark("c5aaa")
    with store.write() as conn:
        conn.execute("DELETE FROM jobs WHERE id = 'c5aaa'")
    model.update(snapshot_of(store))
    assert model.marks == set()


def test_summary_counts_states_total_rate_and_resources(model: DashboardModel) -> None:
    model.usage = {"k3x9q": Usage(50.0, 100 * 2**20), "m7tpa": Usage(25.0, 50 * 2**20)}
    summary = model.summary()
    assert summary.startswith("2 running · 1 queued · 1 paused · 2 failed · 3 completed")
    assert "· 44.4/s ·" in summary and "CPU 75% · MEM 150M" in summary
    assert DashboardModel().summary() == "loading…"


def test_held_jobs_paused_groups_and_places_in_line(state: StateDir, store: Store) -> None:
    with store.write() as conn:
        conn.execute("INSERT INTO groups (name, parallel, paused) VALUES ('gpu', 1, 1)")
    insert_job(store, "h1ld0", "held-one", JobStatus.QUEUED, held=1, seq=1)
    insert_job(store, "q1aaa", "first", JobStatus.QUEUED, grp="gpu", seq=2)
    insert_job(store, "q2bbb", "urgent", JobStatus.QUEUED, grp="gpu", seq=3, priority=5)
    model = DashboardModel()
    model.update(snapshot_of(store, frozenset({"gpu"})))
    rows = {r.job.id: r for r in model.rows(JobStatus.QUEUED)}
    assert rows["h1ld0"].status_label == "held" and rows["h1ld0"].note.startswith("held")
    assert rows["q2bbb"].note == "group gpu paused · #1 in line"  # priority first
    assert rows["q1aaa"].note == "group gpu paused · #2 in line"
    assert model.needs().groups
    assert "(1 held)" in model.summary() and "group gpu paused" in model.summary()


@pytest.mark.parametrize("width", [120, 80, 60])
def test_every_panel_shares_the_columns_and_keeps_what_users_need(
    model: DashboardModel, width: int
) -> None:
    layout = plan(width - 1, model.needs())
    ctx = CellContext(FIXED_NOW, Palette.plain(), layout.bar, layout.counts)
    running, other = spans(layout, True), spans(layout, False)
    # Columns that every row has start at the same cell in every panel.
    for key, where in other.items():
        if key != "note":
            assert running[key] == where
    assert "progress" in running and "eta" in running and layout.bar >= 5
    for status in JobStatus:
        head = header_text(layout, status, None).plain
        for row in model.rows(status):
            line = "".join(s.text for s in row_segments(row, layout, ctx, Console()))
            assert len(line) == len(head) <= width - 1
            if row.job.total:
                assert f"{row.job.done * 100 // row.job.total}%" in line  # never cut
            if status is JobStatus.RUNNING and row.job.eta_s:
                assert "1m 25s" in line
            if row.job.reason:
                assert row.job.reason in line  # the whole reason


def test_counts_are_as_wide_as_the_widest_total_and_the_name_as_the_longest() -> None:
    layout = plan(119, ColumnNeeds(name=14, counts=len("12345/99999")))
    widths = dict((c.key, w) for c, w in layout.columns)
    assert widths["name"] == 14
    assert layout.counts == 11
    narrow = plan(59, ColumnNeeds(name=14, counts=11))
    assert narrow.counts == 0 and narrow.bar >= 5  # the counts go before the bar and the %


def test_other_hosts_add_a_host_column_and_an_offline_hosts_rows_are_greyed(
    state: StateDir, store: Store
) -> None:
    insert_job(store, "k3x9q", "here", JobStatus.RUNNING, started_at=FIXED_NOW - 60)
    snapshot = snapshot_of(store)
    there = snapshot.jobs[JobStatus.RUNNING][0]._replace(id="gpu/r2d2x", name="there")
    snapshot.jobs[JobStatus.RUNNING].append(there)

    def host_of(job):  # type: ignore[no-untyped-def]
        return ("gpu offline 2m", True) if job.id.startswith("gpu/") else ("local", False)

    model = DashboardModel(host_of=host_of)
    model.update(snapshot)
    layout = plan(119, model.needs())
    assert layout.keys[:4] == ("mark", "id", "host", "name")
    palette = dataclasses.replace(Palette.plain(), muted=Style(color="grey50"))
    ctx = CellContext(FIXED_NOW, palette, layout.bar, layout.counts)
    here, remote = model.rows(JobStatus.RUNNING)
    x, width = spans(layout, True)["host"]
    assert width == len("gpu offline 2m")
    text = "".join(s.text for s in row_segments(remote, layout, ctx, Console()))
    assert text[x : x + width] == "gpu offline 2m"
    assert text[spans(layout, True)["id"][0] :].startswith("r2d2x")  # the id without its host
    cells = [s for s in row_segments(remote, layout, ctx, Console()) if s.text.strip()]
    assert all(s.style == palette.muted for s in cells)  # the whole row: its last snapshot
    cells = [s for s in row_segments(here, layout, ctx, Console()) if s.text.strip()]
    assert not all(s.style == palette.muted for s in cells)
    assert "HOST" not in header_text(plan(119, DashboardModel().needs()), JobStatus.RUNNING, None)
