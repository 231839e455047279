"""Stopping a tree with setsid escapees and SIGTERM-ignoring descendants: 0 survivors within
grace + 1 s, measured by pid + create time (a reused pid cannot fake a survivor or a kill)."""

from __future__ import annotations

import subprocess
import sys
import time

from jobcore.state.paths import StateDir
from tests.conftest import CLI, wait_for
from tests.reliability.support import descendants, marked, wait_stopped

# Two setsid escapees (one ignoring TERM, one a daemon-style double fork), a TERM-ignoring
# subshell with a busy loop of sleeps, and a plain child.
TREE = r"""
setsid sh -c 'trap "" TERM; sleep 300' &
setsid sh -c 'sh -c "sleep 300" & exit 0' &
sh -c 'trap "" TERM; while :; do sleep 0.1; done' &
sleep 300 &
sleep 0.3
echo ready
wait
"""


def test_stop_tree_with_escapees_leaves_no_survivor(cli: CLI, state: StateDir) -> None:
    grace = 1.0
    figures = []
    job_id = cli.run("sh", "-c", TREE)
    for round_ in range(2):
        data = cli.wait_status(job_id, {"running"})
        log = state.log_path(job_id)
        wait_for(lambda log=log, n=round_: log.read_bytes().count(b"ready") > n, timeout=10)
        wait_for(lambda: len(marked(job_id)) >= 6, timeout=10)
        tree = marked(job_id)
        under_worker = descendants(data["pid"])
        started = time.monotonic()
        stopper = subprocess.Popen(
            [sys.executable, "-m", "jobcore", "stop", "--grace", str(grace), job_id],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            elapsed, total, survivors = wait_stopped(
                state.db_path, job_id, tree, timeout=grace + 10
            )
            _, err = stopper.communicate(timeout=30)
        finally:
            stopper.kill()
        returned = time.monotonic() - started
        figures.append(
            f"round {round_ + 1}: {len(tree)} processes ({len(under_worker)} under the worker), "
            f"{len(survivors)} survivors, all gone {elapsed:.2f}s after the stop request "
            f"({total:.2f}s after invoking `jobcore stop`), stop returned after {returned:.2f}s"
        )
        assert survivors == [], survivors
        assert elapsed is not None and elapsed <= grace + 1.0
        assert stopper.returncode == 0, err
        assert cli.show(job_id)["status"] == "paused"
        assert marked(job_id) == []
        if round_ == 0:
            cli("resume", job_id)
    print(f"stop with grace {grace}s: " + "; ".join(figures))
