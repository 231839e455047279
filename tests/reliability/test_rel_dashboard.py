"""The dashboard restarted while jobs run shows exactly the database's state."""

from __future__ import annotations

from jobcore.state.models import JobStatus
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from jobtui.app import JobApp
from tests.conftest import CLI
from tests.tui.conftest import panel_of, wait_until


def _database_view(store: Store) -> dict[str, JobStatus]:
    return {job.id: job.status for job in store.list_jobs()}


async def _shown(app: JobApp, pilot, expected: dict[str, JobStatus]) -> None:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: all(panel_of(app, i) is s for i, s in expected.items()))
    shown = {job.id for jobs in app.snapshot.jobs.values() for job in jobs}
    assert shown == set(expected)


async def test_a_restarted_dashboard_shows_the_database(
    cli: CLI, state: StateDir, store: Store
) -> None:
    running = cli.run("sleep", "60")
    to_pause = cli.run("sleep", "60")
    quick = cli.run("true")
    for job_id in (running, to_pause):
        cli.wait_status(job_id, {"running"})
    cli.wait_status(quick, {"completed"})
    async with JobApp(state).run_test(size=(120, 30)) as pilot:
        await _shown(pilot.app, pilot, _database_view(store))
    # While no dashboard runs, jobs change: one pauses, one fails, a new one starts.
    cli("stop", "--grace", "0", to_pause)
    cli("kill", running)
    later = cli.run("sleep", "60")
    cli.wait_status(later, {"running"})
    expected = _database_view(store)
    assert expected[to_pause] is JobStatus.PAUSED and expected[running] is JobStatus.FAILED
    async with JobApp(state).run_test(size=(120, 30)) as pilot:
        await _shown(pilot.app, pilot, expected)
    print(f"restarted dashboard showed all {len(expected)} jobs in their database status")
