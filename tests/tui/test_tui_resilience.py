"""The dashboard keeps going: an exception in the poll or the refresh loop is retried, not fatal."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import threading
from collections.abc import AsyncIterator

import pytest

import jobtui.app_live
from jobcore.state.models import JobStatus
from jobcore.state.paths import StateDir
from jobtui.app import JobApp
from tests.conftest import CLI
from tests.tui.conftest import cell, panel_of, wait_until
from tests.tui.test_tui_live import report


def toasts(app: JobApp, title: str) -> int:
    return sum(1 for n in app._notifications if title in n.title)


@pytest.mark.parametrize(
    "error", [RuntimeError("injected"), sqlite3.OperationalError("disk I/O error")]
)
async def test_the_refresh_loop_survives_a_failed_read(
    cli: CLI, state: StateDir, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    job_id = cli.run("sleep", "60")
    cli.wait_status(job_id, {"running"})
    app = JobApp(state)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.RUNNING)
        failing = threading.Event()
        failing.set()
        calls = 0
        read = app.reader.read

        async def broken_read(*args, **kw):  # type: ignore[no-untyped-def]
            nonlocal calls
            if failing.is_set():
                calls += 1
                raise error
            return await read(*args, **kw)

        monkeypatch.setattr(app.reader, "read", broken_read)
        await report(cli, monkeypatch, job_id, "--total", "10", "--done", "7")
        await wait_until(pilot, lambda: calls >= 3, 10)  # retried, with one toast
        assert toasts(app, "refresh failed") == 1
        assert "not live" in app.sub_title and type(error).__name__ in app.sub_title
        failing.clear()
        await wait_until(pilot, lambda: "7/10" in (cell(app, job_id, "progress") or ""), 10)
        await wait_until(pilot, lambda: "not live" not in app.sub_title)
        assert "live" in app.sub_title


async def test_the_poll_survives_an_exception(
    cli: CLI, state: StateDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = cli.run("sleep", "60")
    worker_pid = cli.wait_status(job_id, {"running"})["pid"]
    failing = threading.Event()
    failing.set()
    calls = 0
    reconcile = jobtui.app_live.reconcile

    def broken_reconcile(store):  # type: ignore[no-untyped-def]
        nonlocal calls
        if failing.is_set():
            calls += 1
            raise ValueError("injected")
        return reconcile(store)

    monkeypatch.setattr(jobtui.app_live, "reconcile", broken_reconcile)
    monkeypatch.setattr(jobtui.app_live, "POLL_S", 0.2)
    app = JobApp(state)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.RUNNING)
        await wait_until(pilot, lambda: calls >= 2, 10)
        assert toasts(app, "poll failed") == 1
        assert "not live" in app.sub_title
        failing.clear()
        # Liveness works again: a killed worker's row turns failed with no key pressed.
        os.kill(worker_pid, signal.SIGKILL)
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.FAILED, 10)
        await wait_until(pilot, lambda: "not live" not in app.sub_title)


class SilentWatcher:
    """A watcher that starts and then delivers nothing (events lost, NFS, a full queue)."""

    async def changes(self) -> AsyncIterator[None]:
        await asyncio.Event().wait()
        yield None

    def pace(self, live: bool) -> None:
        pass

    def stop(self) -> None:
        pass


async def test_progress_shows_when_the_watcher_delivers_nothing(
    cli: CLI, state: StateDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = cli.run("sleep", "60")
    cli.wait_status(job_id, {"running"})
    monkeypatch.setattr(jobtui.app_live, "POLL_S", 60.0)
    app = JobApp(state, watcher=SilentWatcher())
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: panel_of(app, job_id) is JobStatus.RUNNING)
        # The first poll (at 50 ms) is over once it measured the job: the next is a minute away.
        await wait_until(pilot, lambda: job_id in app.usage)
        await report(cli, monkeypatch, job_id, "--total", "10", "--done", "4")
        await wait_until(pilot, lambda: "4/10" in (cell(app, job_id, "progress") or ""), 1.5)
