"""``python -m jobtui.screenshots``: regenerate ``screenshots/*.svg`` from real jobs.

Launches the demo's jobs into a fresh state folder, drives the dashboard headless with Pilot
and saves each screen as SVG for the README; the jobs are killed at the end.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from jobcore.ops.control import stop
from jobcore.state.models import JobStatus
from jobcore.state.paths import resolve_home
from jobcore.state.store import Store
from jobtui.app import JobApp
from jobtui.demo import launch_demo
from jobtui.widgets.confirm import ConfirmDialog
from jobtui.widgets.log_screen import LogScreen

OUT = Path(__file__).resolve().parent.parent / "screenshots"
HOME_LABEL = "~/.local/share/jobcore · live"


async def _until(pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await pilot.pause(0.05)


async def _shoot(
    app: JobApp, size: tuple[int, int], name: str, steps: Callable[[Pilot[Any]], Awaitable[None]]
) -> None:
    async with app.run_test(size=size) as pilot:
        await _until(pilot, lambda: app.snapshot.jobs.get(JobStatus.RUNNING))
        app.sub_title = HOME_LABEL
        await steps(pilot)
        await pilot.pause(0.3)
        app.save_screenshot(filename=f"{name}.svg", path=str(OUT))
        print(f"wrote screenshots/{name}.svg")


async def _nothing(pilot: Pilot[Any]) -> None:
    await pilot.pause(1.0)


async def _detail(pilot: Pilot[Any]) -> None:
    await pilot.press("enter")
    app = pilot.app
    await _until(pilot, lambda: len(app.query_one("#detail-log").lines) > 5)  # type: ignore[attr-defined]
    await pilot.pause(1.5)


async def _log(pilot: Pilot[Any]) -> None:
    await pilot.press("L")
    await _until(pilot, lambda: isinstance(pilot.app.screen, LogScreen))
    await pilot.pause(1.0)


async def _marked(pilot: Pilot[Any]) -> None:
    await pilot.press("space", "space", "a")
    await pilot.pause(0.5)


async def _kill(pilot: Pilot[Any]) -> None:
    await pilot.press("K")
    await _until(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog))


async def _palette(pilot: Pilot[Any]) -> None:
    await pilot.press("ctrl+p", *"resize")
    await pilot.pause(0.5)


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    state = resolve_home(Path(tempfile.mkdtemp(prefix="jobtui-shots-")))
    with Store(state) as store:
        jobs = launch_demo(state, store)
        time.sleep(2.0)
        try:
            shots = [
                ((120, 32), "dashboard", _nothing),
                ((120, 36), "detail", _detail),
                ((110, 30), "log-view", _log),
                ((120, 32), "marked-sorted", _marked),
                ((100, 30), "kill-confirm", _kill),
                ((100, 24), "palette", _palette),
                ((80, 24), "narrow-80", _nothing),
                ((60, 20), "narrow-60", _nothing),
            ]
            for size, name, steps in shots:
                await _shoot(JobApp(state, blink=False), size, name, steps)
        finally:
            for job in jobs:
                if store.get(job.id).status.is_active:
                    stop(store, job.id, kill=True)


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
