"""Exact membership: grandchildren that cleared their environment (``env -i``) and left the
session (``setsid``), one ignoring SIGTERM and one daemonised, outlive a kill -9 of their
worker; the reconcile of the next ``jobcore ls`` must still find and kill every one of them."""

from __future__ import annotations

import os
import signal

from jobcore.procs.cgroup import recorded
from jobcore.state.paths import StateDir
from tests.conftest import CLI
from tests.reliability.support import (
    escapee_line,
    read_escapee,
    skip_without_cgroup2,
    wait_gone,
)

MODES = ("plain", "ignore-term", "daemon")


def test_escaped_grandchildren_die_with_their_job_after_kill9_of_the_worker(
    cli: CLI, state: StateDir, tmp_path
) -> None:
    skip_without_cgroup2()
    pidfiles = [tmp_path / f"{mode}.pid" for mode in MODES]
    script = "".join(escapee_line(p, state.root, m) for p, m in zip(pidfiles, MODES, strict=True))
    job_id = cli.run("sh", "-c", script + "sleep 300\n")
    data = cli.wait_command(job_id)
    method = "cgroup" if recorded(state, job_id) else "tree + marker"
    escapees = [read_escapee(p) for p in pidfiles]
    os.kill(data["pid"], signal.SIGKILL)
    cli.ls()  # any reading command reconciles: the worker is dead, its job's processes go
    assert cli.show(job_id)["reason"] == "worker died unexpectedly"
    elapsed, left = wait_gone(escapees, timeout=10)
    print(
        f"escaped grandchildren (env -i + setsid; plain, SIGTERM-ignoring, daemonised) after "
        f"kill -9 of the worker: {len(left)} left of {len(escapees)} ({method}), "
        f"all gone {elapsed:.2f}s after the reconcile"
    )
    assert left == []
