"""Shared fixtures: a private state folder per test, the real CLI, and process cleanup.

Every process a test starts carries the test's state folder in its argv (workers) or its
environment (commands), so teardown can find and kill all of them even when the test failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from hypothesis import settings

from jobcore.state.paths import StateDir, resolve_home
from jobcore.state.store import Store

# CI is a gate, not a search: there the property tests try the same examples on every run
# (HYPOTHESIS_PROFILE=ci, set by .ci/run); anywhere else each run draws new ones.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _processes_of(home: Path) -> list[psutil.Process]:
    marker = str(home)
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if proc.pid == os.getpid():
            continue
        try:
            if any(marker in part for part in proc.info["cmdline"] or []):
                found.append(proc)
                continue
            with open(f"/proc/{proc.pid}/environ", "rb") as fh:
                if marker.encode() in fh.read():
                    found.append(proc)
        except (OSError, psutil.Error):
            continue
    return found


def dispatchers_of(home: Path) -> list[psutil.Process]:
    """The dispatcher of this state folder. A worker it forks shows its own command line,
    but only from an instant after the fork: a match whose parent matches is that worker."""
    found: dict[psutil.Process, int] = {}  # not process_iter's info: another thread's call
    for proc in psutil.process_iter():  # may replace it meanwhile
        with contextlib.suppress(psutil.Error):
            if proc.cmdline()[-2:] == ["jobcore.ops.dispatcher", str(home)]:
                found[proc] = proc.ppid()
    pids = {proc.pid for proc in found}
    return [proc for proc, parent in found.items() if parent not in pids]


def kill_dispatchers(home: Path) -> None:
    """SIGKILL the dispatcher of this state folder, and wait until it is gone."""
    for proc in dispatchers_of(home):
        with contextlib.suppress(psutil.NoSuchProcess):  # one that found the lock taken
            proc.kill()
            proc.wait(5)


def kill_all_of(home: Path) -> None:
    """SIGKILL every process that belongs to this state folder (test teardown)."""
    for _ in range(3):
        procs = _processes_of(home)
        if not procs:
            return
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGKILL)
        psutil.wait_procs(procs, timeout=2)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, empty state folder, set as JOBCORE_HOME for the test and its subprocesses.

    It exists, as a user's does after their first ``jobcore run``: reading commands refuse
    a ``$JOBCORE_HOME`` that does not exist.
    """
    path = tmp_path / "state"
    path.mkdir(mode=0o700)
    monkeypatch.setenv("JOBCORE_HOME", str(path))
    monkeypatch.delenv("JOBCORE_JOB_ID", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    yield path
    kill_all_of(path)


@pytest.fixture
def state(home: Path) -> StateDir:
    return resolve_home(home)


@pytest.fixture
def store(state: StateDir) -> Iterator[Store]:
    s = Store(state)
    yield s
    s.close()


class CLI:
    """Runs the real ``jobcore`` command in a subprocess, as a user would."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "jobcore", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"jobcore {' '.join(args)} exited {proc.returncode}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def run(self, *command: str, opts: tuple[str, ...] = ()) -> str:
        """``jobcore run [opts] -- command``; returns the job id."""
        return self("run", "-q", *opts, "--", *command).stdout.strip()

    def show(self, job_id: str) -> dict[str, Any]:
        return json.loads(self("show", "--json", job_id).stdout)

    def ls(self, *args: str) -> list[dict[str, Any]]:
        return json.loads(self("ls", "--json", *args).stdout)

    def wait_status(self, job_id: str, statuses: set[str], timeout: float = 30) -> dict[str, Any]:
        """Poll ``show`` until the job reaches one of ``statuses``."""
        deadline = time.monotonic() + timeout
        while True:
            data = self.show(job_id)
            if data["status"] in statuses:
                return data
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} stuck in {data['status']}: {data}")
            time.sleep(0.05)

    def wait_command(self, job_id: str, timeout: float = 30) -> dict[str, Any]:
        """Poll ``show`` until the job's command is running (its pid recorded).

        The worker writes "running" just before it starts the command, so for a moment a
        running job has no command pid yet.
        """
        return wait_for(
            lambda: (
                (data := self.show(job_id))["status"] == "running"
                and data["command_pid"] is not None
                and data
            ),
            timeout,
        )


@pytest.fixture
def cli(home: Path) -> CLI:
    return CLI(home)


class HomeCLI(CLI):
    """The real CLI on a state folder given with ``--home`` (the environment names another)."""

    def __call__(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return super().__call__("--home", str(self.home), *args, **kw)


@pytest.fixture
def other_home(tmp_path: Path) -> Iterator[Path]:
    """A second state folder (another project, another CI runner), cleaned up after."""
    path = tmp_path / "other-state"
    yield path
    kill_all_of(path)


def read_pty(
    fd: int,
    until: Callable[[bytes], bool] = lambda _: False,
    proc: subprocess.Popen[Any] | None = None,
    timeout: float = 30,
) -> bytes:
    """Read a pseudo-terminal's leader until ``until(everything so far)``, its other side
    closes, or ``proc`` has exited with nothing left to read."""
    out = b""
    deadline = time.monotonic() + timeout
    while not until(out) and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not data:
                break
            out += data
        elif proc is not None and proc.poll() is not None:
            break
    return out


def wait_for(predicate: Callable[[], Any], timeout: float = 20, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def run_cli_in(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI run from a process whose environment is exactly ``env``; must exit 0."""
    proc = subprocess.run(
        [sys.executable, "-m", "jobcore", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def completions(words: str) -> list[str]:
    """What shell completion offers for the command line ``words`` (the real argcomplete)."""
    env = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_IFS": "\n",
        "COMP_LINE": words,
        "COMP_POINT": str(len(words)),
        "_ARGCOMPLETE_SUPPRESS_SPACE": "1",
    }
    proc = subprocess.run(  # argcomplete answers on fd 8
        ["sh", "-c", f'exec "{sys.executable}" -m jobcore 8>&1 9>/dev/null'],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()
