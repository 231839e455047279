"""jobcore stop: the whole tree goes (setsid escapees and SIGTERM-ignoring processes too), in
time, and the job becomes paused."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from jobcore.ops.control import stop
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from tests.conftest import CLI, wait_for
from tests.reliability.support import descendants, marked, wait_gone, wait_stopped

# A tree that killpg alone cannot stop: a setsid grandchild (own session), a subshell that
# ignores SIGTERM (and so do its sleeps), and a plain sleep. It prints "ready" once all exist.
HARD_TREE = r"""
setsid sh -c 'trap "" TERM; sleep 300' &
sh -c 'trap "" TERM; while :; do sleep 0.2; done' &
sleep 300 &
sleep 0.3
echo ready
wait
"""


def start_hard_tree(cli: CLI, state: StateDir) -> tuple[str, dict]:
    job_id = cli.run("sh", "-c", HARD_TREE)
    data = cli.wait_status(job_id, {"running"})
    wait_for(lambda: b"ready" in state.log_path(job_id).read_bytes(), timeout=10)
    # sh main, setsid sh + sleep, trap sh + its sleep, plain sleep: at least 5 descendants.
    wait_for(lambda: len(descendants(data["pid"])) >= 5, timeout=10)
    return job_id, data


def test_stop_leaves_no_descendant_within_grace_plus_1s(cli: CLI, state: StateDir) -> None:
    job_id, data = start_hard_tree(cli, state)
    tree = descendants(data["pid"])
    mine = {pid for pid, _ in marked(job_id)}
    # The loop's `sleep 0.2` may end between the two looks: what still runs now ran then.
    _, still = wait_gone(tree, 0)
    assert mine >= {pid for pid, _ in still}
    grace = 1.0
    started = time.monotonic()
    stopper = subprocess.Popen(
        [sys.executable, "-m", "jobcore", "stop", "--grace", str(grace), job_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        elapsed, since_call, survivors = wait_stopped(
            state.db_path, job_id, tree, timeout=grace + 10
        )
        _, err = stopper.communicate(timeout=30)
    finally:
        stopper.kill()
    total = time.monotonic() - started
    print(
        f"stop: {len(tree)} descendants gone {elapsed and round(elapsed, 2)}s after the request, "
        f"{since_call:.2f}s "
        f"after the call (grace {grace}s); stop returned after {total:.2f}s"
    )
    assert survivors == []
    assert elapsed is not None and elapsed <= grace + 1.0
    assert stopper.returncode == 0, err
    assert f"job {job_id} is paused" in err
    data = cli.show(job_id)
    assert data["status"] == "paused" and data["reason"] == "stopped by user"
    assert marked(job_id) == []  # nothing of the job is left anywhere, not just under the worker


def test_stop_with_zero_grace_kills_at_once(cli: CLI, state: StateDir) -> None:
    job_id, data = start_hard_tree(cli, state)
    tree = descendants(data["pid"])
    started = time.monotonic()
    cli("stop", "--grace", "0", job_id)
    elapsed = time.monotonic() - started
    assert [i for i in tree if wait_gone([i], 0)[1]] == []
    assert cli.show(job_id)["status"] == "paused"
    assert elapsed < 8.0  # no grace wait (generous: CLI start-up on a loaded machine)


def test_stop_of_a_quick_cooperative_command_is_quick(cli: CLI) -> None:
    """A command that exits on SIGTERM does not make stop wait for the grace period."""
    job_id = cli.run("sleep", "300")
    cli.wait_status(job_id, {"running"})
    started = time.monotonic()
    cli("stop", "--grace", "20", job_id)
    assert time.monotonic() - started < 10.0  # far below the 20 s grace
    assert cli.show(job_id)["status"] == "paused"


def test_stop_of_a_finished_job_is_refused(cli: CLI) -> None:
    job_id = cli.run("true")
    cli.wait_status(job_id, {"completed"})
    proc = cli("stop", job_id, check=False)
    assert proc.returncode == 1
    assert proc.stderr == f"jobcore: error: job {job_id} is completed; there is nothing to stop\n"
    assert cli.show(job_id)["status"] == "completed"


def test_stop_with_negative_grace_is_a_usage_error(cli: CLI) -> None:
    job_id = cli.run("sleep", "300")
    proc = cli("stop", "--grace", "-1", job_id, check=False)
    assert proc.returncode == 2 and "--grace" in proc.stderr
    assert cli.show(job_id)["status"] in {"queued", "running"}
    cli("kill", job_id)


def test_a_stop_that_died_before_signalling_leaves_a_finished_command_completed(
    cli: CLI, store: Store, tmp_path: Path
) -> None:
    """The stop committed its request and was killed before it signalled anything: the
    command, ending by itself with 0, has completed (a resume would run it again)."""
    go = tmp_path / "go"
    job_id = cli.run("sh", "-c", f"while [ ! -e {go} ]; do sleep 0.05; done; exit 0")
    cli.wait_command(job_id)
    with store.write() as conn:
        conn.execute("UPDATE jobs SET stop_request = 'pause' WHERE id = ?", (job_id,))
    go.touch()
    data = cli.wait_status(job_id, {"completed", "paused", "failed"})
    assert (data["status"], data["exit_code"]) == ("completed", 0)


def test_a_stop_racing_the_commands_own_end_leaves_it_completed(
    cli: CLI, store: Store, tmp_path: Path
) -> None:
    """The command has exited 0 (its worker is still stopping what it left behind) when the
    stop comes: the stop signals no command, so the job has completed."""
    term, ready = tmp_path / "term", tmp_path / "ready"
    leftover = f'trap "touch {term}" TERM; touch {ready}; while :; do sleep 0.05; done'
    # The command ends only once the leftover's trap is set: a TERM before it would kill it.
    wait_ready = f"while [ ! -e {ready} ]; do sleep 0.01; done"
    job_id = cli.run("sh", "-c", f"sh -c '{leftover}' & {wait_ready}; exit 0")
    wait_for(term.exists)  # the worker is stopping the leftover: the command has ended
    job = stop(store, job_id, 1.0)
    assert job.stop_request == "pause", "the stop came too late to race"
    data = cli.wait_status(job_id, {"completed", "paused", "failed"})
    assert (data["status"], data["exit_code"]) == ("completed", 0)


def test_a_signalled_command_is_stopped_even_if_it_exits_0(cli: CLI, tmp_path: Path) -> None:
    """A command that cleans up on SIGTERM and exits 0 was stopped, not completed."""
    job_id = cli.run("sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait")
    cli.wait_command(job_id)
    cli("stop", job_id)
    assert cli.show(job_id)["status"] == "paused"


def test_the_dashboards_stop_uses_the_configured_grace(
    cli: CLI, state: StateDir, store: Store, tmp_path: Path
) -> None:
    """`config set grace 0`: the dashboard's stop kills at once, as `jobcore stop` would."""
    from jobtui.actions import JOB_ACTIONS

    cli("config", "set", "grace", "0")
    cleaned = tmp_path / "cleaned"
    job_id = cli.run("sh", "-c", f"trap 'sleep 1; touch {cleaned}; exit 0' TERM; sleep 300 & wait")
    cli.wait_command(job_id)
    job = JOB_ACTIONS["stop"].run(state, store, job_id)
    assert job.status.value == "paused"
    assert marked(job_id) == []  # the stop returns once the tree is gone: no cleanup ran
    assert not cleaned.exists()
