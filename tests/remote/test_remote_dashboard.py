"""One dashboard over several hosts, through a real sshd: live rows, actions, offline hosts."""

from __future__ import annotations

import contextlib
import signal
from typing import Any

import psutil

from jobcore.state.models import JobStatus
from jobcore.state.paths import StateDir
from jobtui.app import JobApp
from tests.conftest import CLI, HomeCLI
from tests.remote.sshd import SshServer
from tests.tui.conftest import cell, panel_of, select, wait_until

SIZE = (160, 40)


def notified(app: JobApp, text: str) -> bool:
    return any(text in str(n.message) for n in app._notifications)


def failures_of(app: JobApp) -> list[BaseException]:
    """Every failure of the app's refresh and poll loops (their toasts expire; this stays)."""
    failures: list[BaseException] = []
    original = app._loop_failed

    def recorded(name: str, exc: BaseException) -> float:
        failures.append(exc)
        return original(name, exc)

    app._loop_failed = recorded  # type: ignore[method-assign]
    return failures


def remote_processes(server: SshServer, *words: str) -> list[psutil.Process]:
    """The processes sshd runs for its clients whose argv holds all of ``words``."""
    found = []
    for proc in server.sessions():
        with contextlib.suppress(psutil.Error):
            if all(word in proc.cmdline() for word in words):
                found.append(proc)
    return found


async def test_jobs_of_every_host_in_one_dashboard_live(
    cli: CLI, state: StateDir, host_a: HomeCLI, host_b: HomeCLI
) -> None:
    here = cli.run("sleep", "60")
    script = "for i in 1 2 3 4 5 6; do echo ::progress $i/6; read _ < /dev/null; sleep 1; done"
    on_a = host_a.run("sh", "-c", script, opts=("--name", "render-a"))
    on_b = host_b.run("sleep", "60", opts=("--name", "fetch-b"))
    app = JobApp(state, hosts=["a", "b"])
    failures = failures_of(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: panel_of(app, f"b/{on_b}") is JobStatus.RUNNING, 20)
        await wait_until(pilot, lambda: panel_of(app, f"a/{on_a}"), 20)
        assert panel_of(app, here) is JobStatus.RUNNING
        assert cell(app, here, "host") == "local"
        assert cell(app, f"a/{on_a}", "host") == "a"
        assert cell(app, f"a/{on_a}", "id") == on_a
        assert cell(app, f"b/{on_b}", "name") == "fetch-b"
        # progress committed on host a reaches this dashboard as it happens
        await wait_until(pilot, lambda: "4/6" in (cell(app, f"a/{on_a}", "progress") or ""), 20)
        await wait_until(pilot, lambda: panel_of(app, f"a/{on_a}") is JobStatus.COMPLETED, 20)
        # the filter works across hosts
        await pilot.press("slash", *"fetch", "enter")
        await wait_until(pilot, lambda: panel_of(app, here) is None)
        assert panel_of(app, f"b/{on_b}") is JobStatus.RUNNING
        assert panel_of(app, f"a/{on_a}") is None
        await pilot.press("slash", *("backspace",) * 5, *"render", "enter")
        await wait_until(pilot, lambda: panel_of(app, f"a/{on_a}") is JobStatus.COMPLETED)
        assert panel_of(app, f"b/{on_b}") is None
        assert failures == []


async def test_stop_a_remote_job_from_the_dashboard(state: StateDir, host_a: HomeCLI) -> None:
    on_a = host_a.run("sleep", "60")
    host_a.wait_status(on_a, {"running"})
    app = JobApp(state, hosts=["a"])
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, f"a/{on_a}")
        await pilot.press("s")
        await wait_until(pilot, lambda: panel_of(app, f"a/{on_a}") is JobStatus.PAUSED, 20)
        await wait_until(pilot, lambda: notified(app, f"job {on_a} is paused"), 20)
        assert host_a.show(on_a)["status"] == "paused"
        screen = app.dashboard
        assert screen.check_action("edit", ()) is None  # $EDITOR here cannot edit a job there
        assert screen.check_action("open_log", ()) is None  # nor open a file there
        await pilot.press("enter")  # the log view comes through ssh too
        await wait_until(pilot, lambda: "log unavailable" not in "".join(screen.log_tail.lines))


async def test_a_remote_log_is_shown(state: StateDir, host_a: HomeCLI) -> None:
    on_a = host_a.run("sh", "-c", "echo hello from a; sleep 60")
    host_a.wait_status(on_a, {"running"})
    app = JobApp(state, hosts=["a"])
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, f"a/{on_a}")
        await pilot.press("enter")
        tail = app.dashboard.log_tail
        await wait_until(pilot, lambda: "hello from a" in "\n".join(tail.lines), 20)


async def test_a_host_that_dies_goes_offline_and_comes_back(
    state: StateDir, host_a: HomeCLI, ssh_env: SshServer
) -> None:
    on_a = host_a.run("sleep", "60")
    failed = host_a.run("false")
    host_a.wait_status(failed, {"failed"})
    app = JobApp(state, hosts=["a"])
    failures = failures_of(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: panel_of(app, f"a/{on_a}") is JobStatus.RUNNING, 20)
        await wait_until(pilot, lambda: panel_of(app, f"a/{failed}") is JobStatus.FAILED)
        ssh_env.stop()  # the machine is gone: its sshd and every session with it
        await wait_until(pilot, lambda: "offline" in (cell(app, f"a/{on_a}", "host") or ""), 10)
        await wait_until(pilot, lambda: "offline" in (cell(app, f"a/{failed}", "host") or ""))
        assert panel_of(app, f"a/{on_a}") is JobStatus.RUNNING  # the last snapshot, kept
        await wait_until(pilot, lambda: "connection refused" in app.sub_title, 15)
        ssh_env.start()
        await wait_until(pilot, lambda: cell(app, f"a/{on_a}", "host") == "a", 30)
        assert "1/1 hosts live" in app.sub_title
        assert failures == []


async def test_a_silent_host_goes_offline_within_10_seconds(
    state: StateDir, host_a: HomeCLI, ssh_env: SshServer
) -> None:
    """A dropped network says nothing: the missing heartbeat tells."""
    on_a = host_a.run("sleep", "60")
    app = JobApp(state, hosts=["a"])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: panel_of(app, f"a/{on_a}") is JobStatus.RUNNING, 20)
        frozen = remote_processes(ssh_env, "--watch")
        assert frozen
        try:
            for proc in frozen:
                proc.send_signal(signal.SIGSTOP)
            await wait_until(pilot, lambda: "offline" in (cell(app, f"a/{on_a}", "host") or ""), 10)
            # a fresh connection (a new stream) brings it back
            await wait_until(pilot, lambda: cell(app, f"a/{on_a}", "host") == "a", 30)
        finally:
            for proc in frozen:
                with contextlib.suppress(psutil.Error):
                    proc.send_signal(signal.SIGKILL)
                    proc.send_signal(signal.SIGCONT)


async def test_a_host_without_jobcore_says_so(state: StateDir, ssh_env: SshServer) -> None:
    app = JobApp(state, hosts=["nojc", "a"])
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: notified(app, "jobcore is not installed on nojc"), 20)
        assert "pipx install jobcore" in app.sub_title
        assert "nojc unreachable" in app.sub_title


async def test_an_action_cut_off_by_a_dropped_connection_is_unknown(
    state: StateDir, host_a: HomeCLI, ssh_env: SshServer
) -> None:
    on_a = host_a.run("sh", "-c", "trap '' TERM; sleep 60 & wait; sleep 60")
    host_a.wait_command(on_a)
    app = JobApp(state, hosts=["a"])
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, f"a/{on_a}")
        await pilot.press("s")  # the job ignores SIGTERM: the stop waits out its grace
        await wait_until(pilot, lambda: remote_processes(ssh_env, "stop", on_a), 20)
        ssh_env.stop()
        await wait_until(pilot, lambda: notified(app, f"outcome of stop on a/{on_a} unknown"), 15)
        ssh_env.start()
        truth: dict[str, Any] = {}

        def shows_the_truth() -> bool:
            truth.update(host_a.show(on_a))
            return panel_of(app, f"a/{on_a}") is JobStatus(truth["status"]) and (
                cell(app, f"a/{on_a}", "host") == "a"
            )

        await wait_until(pilot, shows_the_truth, 30)


async def test_hold_and_start_a_remote_job_from_the_dashboard(
    state: StateDir, host_a: HomeCLI
) -> None:
    on_a = host_a.run("sleep", "60", opts=("--delay", "1h"))
    app = JobApp(state, hosts=["a"])
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, f"a/{on_a}")
        await pilot.press("h")  # `ssh a jobcore hold ID`
        await wait_until(pilot, lambda: cell(app, f"a/{on_a}", "status") == "held", 20)
        assert host_a.show(on_a)["waiting_on"] == "held"
        await wait_until(pilot, lambda: app.dashboard.check_action("act", ("release",)))
        await pilot.press("S")
        await wait_until(pilot, lambda: panel_of(app, f"a/{on_a}") is JobStatus.RUNNING, 20)
    assert host_a.show(on_a)["status"] == "running"
