"""The dashboard over ssh: a remote commit reaching the screen, and the CPU a watched host costs.

    python -m benchmarks.bench_remote

A real sshd on 127.0.0.1 serves host ``a`` (the test fixture's server, tests/remote/sshd.py);
the dashboard runs headless in this process and reads it with the real ssh client through
``jobcore ls --watch --json``. Side by side, the same figures with the same jobs in the local
state folder. Latency is from the writer's commit returning to the app having applied the row;
CPU counts this process, its ssh client and the shared connection's ssh master (what this
machine pays), with the remote stream's own CPU (the other machine's) in a note.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks.bench_tui import (
    LATENCY_COMMITS,
    LOAD_JOBS,
    LOAD_RATE_HZ,
    LOAD_SECONDS,
    SIZE,
    TimedApp,
    _running_jobs,
    _writer,
    commit_latencies,
)
from benchmarks.common import median, p95, row, temp_home
from jobcore.ops import remote
from jobcore.state.models import JobStatus
from jobcore.state.paths import resolve_home
from jobtui.app import JobApp


def _ssh_processes() -> list[psutil.Process]:
    """This process's children (the ssh clients) and the shared connections' ssh masters."""
    me = psutil.Process()
    found = me.children(recursive=True)
    control = str(remote.control_dir())
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if control in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
    return found


def _cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


async def _latency(local: Path, home: Path, hosts: list[str], prefix: str) -> list[float]:
    (job_id,) = _running_jobs(home, 1)
    app = TimedApp(resolve_home(local), watch_id=prefix + job_id, blink=False, hosts=hosts)
    async with app.run_test(size=SIZE) as pilot:
        while app.snapshot.find(prefix + job_id) is None:
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        proc = _writer(home, "latency", job_id, str(LATENCY_COMMITS))
        out, _ = await asyncio.to_thread(proc.communicate)
        deadline = time.monotonic() + 3
        while len(app.seen) <= LATENCY_COMMITS and time.monotonic() < deadline:
            await pilot.pause(0.05)
    return commit_latencies(out, app.seen)


async def _cpu(local: Path, home: Path, hosts: list[str], server: Any) -> tuple[float, float]:
    """This machine's CPU % while LOAD_JOBS jobs report LOAD_RATE_HZ; and the remote stream's."""
    ids = _running_jobs(home, LOAD_JOBS)
    app = JobApp(resolve_home(local), blink=False, hosts=hosts)
    async with app.run_test(size=SIZE) as pilot:
        while len(app.snapshot.jobs.get(JobStatus.RUNNING, [])) < LOAD_JOBS:
            await pilot.pause(0.05)
        await pilot.pause(1.0)
        proc = _writer(home, str(LOAD_RATE_HZ), *ids, str(LOAD_SECONDS))
        await pilot.pause(0.3)
        here = _ssh_processes()
        there = server.sessions() if server is not None else []
        wall = time.monotonic()
        cpu, ssh_cpu, far = time.process_time(), _cpu_seconds(here), _cpu_seconds(there)
        await pilot.pause(LOAD_SECONDS - 0.6)
        spent = time.process_time() - cpu + _cpu_seconds(here) - ssh_cpu
        remote_spent = _cpu_seconds(there) - far
        elapsed = time.monotonic() - wall
        await asyncio.to_thread(proc.wait)
    return spent / elapsed * 100, remote_spent / elapsed * 100


def run() -> list[dict[str, Any]]:
    from tests.remote.sshd import SshServer, unavailable

    why = unavailable()
    if why:
        return [row("remote: skipped", 0, "-", note=why)]
    root = Path(tempfile.mkdtemp(prefix="jcbench-ssh-"))
    with temp_home("jcbench-remote-") as local, temp_home("jcbench-remote-a-") as home_a:
        server = SshServer(root, {"a": home_a})
        server.start()
        saved = os.environ.get(remote.ENV_SSH)
        os.environ[remote.ENV_SSH] = server.ssh_command
        try:
            over_ssh = asyncio.run(_latency(local, home_a, ["a"], "a/"))
            with temp_home("jcbench-remote-l-") as only_local:
                here = asyncio.run(_latency(only_local, only_local, [], ""))
            busy_remote, far = asyncio.run(_cpu(local, home_a, ["a"], server))
            with temp_home("jcbench-remote-l-") as only_local:
                busy_local, _ = asyncio.run(_cpu(only_local, only_local, [], None))
        finally:
            if saved is None:
                os.environ.pop(remote.ENV_SSH, None)
            else:
                os.environ[remote.ENV_SSH] = saved
            server.stop()
            shutil.rmtree(root, ignore_errors=True)
    return [
        row("remote: commit on host → row on screen over loopback ssh, p50",
            median(over_ssh) * 1000, "ms", peer_name="local job", peer=median(here) * 1000,
            target="<= 300"),
        row("remote: commit on host → row on screen over loopback ssh, p95",
            p95(over_ssh) * 1000, "ms", peer_name="local job", peer=p95(here) * 1000,
            target="<= 300"),
        row(f"remote: dashboard CPU, 1 host with {LOAD_JOBS} jobs reporting "
            f"{LOAD_RATE_HZ:.0f}x/s (app + ssh here)", busy_remote, "%",
            peer_name="same jobs local", peer=busy_local, target="-",
            note=f"the host's own stream used {far:.1f}% of a core there"),
        row("remote: extra dashboard CPU per watched host (over the same jobs local)",
            busy_remote - busy_local, "% points", target="-"),
    ]  # fmt: skip


if __name__ == "__main__":
    for result in run():
        print(result)
