"""A cluster batch in the dashboard: its detail says where its items run, as ``jobcore show``."""

from __future__ import annotations

from jobcore.state.cluster import write_where
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from jobtui.app import JobApp
from tests.tui.conftest import open_detail, wait_until
from tests.tui.test_tui_actions import SIZE, detail_text

ADDRESS = "tcp://10.0.0.5:8786"


def lines(app: JobApp) -> list[str]:
    return [line.strip() for line in detail_text(app).splitlines()]


async def test_the_detail_names_the_cluster_and_what_each_worker_ran(
    state: StateDir, store: Store
) -> None:
    job = store.create_job(
        ["./render.sh", "{}"], "/srv", {}, "render", spec={"cluster": ADDRESS}, items=["a", "b"]
    )
    workers = {
        "tcp://10.0.0.7:40111": {"ran": 3, "running": 1},
        "tcp://10.0.0.8:40222": {"ran": 2, "running": 0},
    }
    state.make_job_dir(job.id)  # as the launcher makes it
    write_where(state, job.id, {"address": ADDRESS, "workers": workers})
    local = store.create_job(["true"], "/srv", {}, "plain")
    app = JobApp(state, live=False)  # no dispatcher: these jobs only have to be shown
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, app, job.id)
        expected = f"{ADDRESS} (tcp://10.0.0.7:40111 3 ran, 1 running; tcp://10.0.0.8:40222 2 ran)"
        await wait_until(pilot, lambda: expected in detail_text(app))
        assert "cluster" in detail_text(app)
        # a note of another cluster (the batch was moved) is not this one's: the address only
        write_where(state, job.id, {"address": "tcp://elsewhere:8786", "workers": workers})
        await open_detail(pilot, app, local.id)
        await wait_until(pilot, lambda: "cluster" not in detail_text(app))
        await open_detail(pilot, app, job.id)
        await wait_until(pilot, lambda: f"cluster {ADDRESS}" in lines(app))
