"""Stopping a batch: its worker reaps what it adopts, honours the stop's grace, keeps an item's
last words, and a shutdown's SIGTERM makes no item fail."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import psutil
import pytest

from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from tests.conftest import CLI, wait_for

ROOT = Path(__file__).resolve().parent.parent


def _items(tmp_path: Path, items: list[str]) -> Path:
    path = tmp_path / "items.txt"
    path.write_text("".join(f"{i}\n" for i in items), encoding="utf-8")
    return path


def zombies_under(pid: int) -> int:
    """How many of ``pid``'s children are zombies (exited, never reaped)."""
    try:
        children = psutil.Process(pid).children()
    except psutil.Error:
        return 0
    count = 0
    for child in children:
        with contextlib.suppress(psutil.Error):
            count += child.status() == psutil.STATUS_ZOMBIE
    return count


def sleeps_ended(tmp_path: Path) -> bool:
    """No ``sleep 0.2`` left by this test's items still runs (a zombie has ended)."""
    for proc in psutil.process_iter(["cmdline", "environ"]):
        with contextlib.suppress(psutil.Error):
            if (
                proc.info["cmdline"] == ["sleep", "0.2"]
                and str(tmp_path) in str(proc.info["environ"])
                and proc.status() != psutil.STATUS_ZOMBIE
            ):
                return False
    return True


def run_items_leaving_children(cli: CLI, tmp_path: Path, n: int) -> tuple[str, int]:
    """``n`` items that each leave ``(sleep 0.2 &)`` behind, then one that holds the batch
    open until ``tmp_path/go`` exists. Returns the job id and its worker pid, once the n
    items are done and the sleeps they left have ended (so any zombie is the worker's)."""
    go = tmp_path / "go"
    script = f'if [ "$0" = hold ]; then while [ ! -e {go} ]; do sleep 0.05; done; fi; (sleep 0.2 &)'
    each = _items(tmp_path, [f"i{k}" for k in range(n)] + ["hold"])
    job_id = cli.run("sh", "-c", script, "{}", opts=("--each", str(each), "-j", "4"))
    data = wait_for(lambda: (d := cli.show(job_id))["done"] >= n and d, timeout=60)
    wait_for(lambda: sleeps_ended(tmp_path), timeout=20)
    return job_id, data["pid"]


def test_a_batch_worker_reaps_the_children_its_items_leave(cli: CLI, tmp_path: Path) -> None:
    job_id, worker = run_items_leaving_children(cli, tmp_path, 40)
    wait_for(lambda: zombies_under(worker) == 0, timeout=10)
    assert psutil.pid_exists(worker), "the worker must still be running while we count"
    (tmp_path / "go").touch()
    assert cli.wait_status(job_id, {"completed", "failed"})["status"] == "completed"


def trapping_item(tmp_path: Path, cleanup_s: float) -> list[str]:
    """An item that says hello, then on SIGTERM cleans up for ``cleanup_s``, writes a file,
    says bye, and exits 1."""
    script = (
        f"trap 'sleep {cleanup_s}; touch {tmp_path}/cleaned-$0; echo \"bye $0\"; exit 1' TERM; "
        'echo "hello $0"; sleep 300 & wait'
    )
    return ["sh", "-c", script, "{}"]


def test_stop_grace_reaches_batch_items(cli: CLI, state: StateDir, tmp_path: Path) -> None:
    """The item's cleanup takes 6 s: with --grace 10 it completes (it was cut at 5 s)."""
    each = _items(tmp_path, ["a"])
    job_id = cli.run(*trapping_item(tmp_path, 6), opts=("--each", str(each)))
    wait_for(lambda: b"hello a" in state.log_path(job_id).read_bytes())
    cli("stop", "--grace", "10", job_id, timeout=60)
    assert (tmp_path / "cleaned-a").exists()
    data = cli.show(job_id)
    assert data["status"] == "paused"
    assert data["items"]["pending"] == 1 and data["items"]["failed"] == 0
    assert b"bye a" in state.log_path(job_id).read_bytes()


def test_stop_grace_is_range_checked(cli: CLI) -> None:
    for bad in ("inf", "nan", "-1", "1e300"):
        proc = cli("stop", "--grace", bad, "nosuch", check=False)
        assert proc.returncode == 2, (bad, proc.stderr)
        assert "--grace" in proc.stderr and "Traceback" not in proc.stderr


def test_an_items_last_output_while_stopped_reaches_the_log(
    cli: CLI, state: StateDir, store: Store, tmp_path: Path
) -> None:
    """A stop whose process died after writing its request: the worker stops the item
    itself, and what the item prints on its way out is in the log."""
    each = _items(tmp_path, ["a", "b"])
    job_id = cli.run(*trapping_item(tmp_path, 0), opts=("--each", str(each), "-j", "2"))
    log = state.log_path(job_id)
    wait_for(lambda: b"hello a" in log.read_bytes() and b"hello b" in log.read_bytes())
    with store.write() as conn:
        conn.execute("UPDATE jobs SET stop_request = 'pause' WHERE id = ?", (job_id,))
    data = cli.wait_status(job_id, {"paused", "failed", "completed"})
    assert data["status"] == "paused"
    assert data["items"]["pending"] == 2
    out = log.read_bytes()
    assert b"bye a" in out and b"bye b" in out


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def session_of(pid: int) -> list[psutil.Process]:
    """Every process in ``pid``'s session but ``pid`` itself."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if proc.pid != pid and os.getsid(proc.pid) == pid:
                found.append(proc)
    return found


def test_a_shutdown_fails_no_item(cli: CLI, tmp_path: Path) -> None:
    """SIGTERM reaches the items just before their worker (as at a reboot): no item fails;
    a resume runs each unfinished item, and every item is done exactly once."""
    done = tmp_path / "done.txt"
    items = [f"i{k}" for k in range(60)]
    each = _items(tmp_path, items)
    script = f'sleep 0.3; echo "$0" >> {done}'
    job_id = cli.run("sh", "-c", script, "{}", opts=("--each", str(each), "-j", "8"))
    data = wait_for(lambda: (d := cli.show(job_id))["done"] >= 8 and d, timeout=60)
    worker = data["pid"]
    victims = session_of(worker)
    assert victims
    for proc in victims:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGTERM)
    wait_for(lambda: not any(_running(p) for p in victims), timeout=10, interval=0.01)
    os.kill(worker, signal.SIGTERM)
    data = cli.wait_status(job_id, {"failed", "paused", "completed"})
    assert data["error"] == "worker was terminated (SIGTERM)"
    assert data["items"]["failed"] == 0, cli("failures", job_id).stdout
    cli("resume", job_id)
    data = cli.wait_status(job_id, {"failed", "paused", "completed"}, timeout=60)
    assert data["status"] == "completed"
    assert data["items"]["failed"] == 0
    lines = done.read_text().split()
    assert sorted(lines) == sorted(items)


@pytest.mark.parametrize("mode", [(), ("--processes",)], ids=["threads", "processes"])
def test_a_python_batch_worker_reaps_what_its_calls_leave(
    cli: CLI, store: Store, tmp_path: Path, mode: tuple[str, ...]
) -> None:
    """Orphans of a call's subprocess are reaped; the call's own subprocess keeps its code."""
    go = tmp_path / "go"
    each = _items(tmp_path, [f"i{k}" for k in range(10)] + ["hold"])
    target = "tests.examples.batchfuncs:leave_a_child"
    opts = ("--each", str(each), "--call", target, "-j", "2", "--cwd", str(ROOT))
    job_id = cli.run(opts=(*opts, "--env", f"GO={go}", *mode))
    worker = wait_for(lambda: (d := cli.show(job_id))["done"] >= 10 and d["pid"], timeout=60)
    wait_for(lambda: sleeps_ended(tmp_path), timeout=20)
    wait_for(lambda: zombies_under(worker) == 0, timeout=10)
    go.touch()
    assert cli.wait_status(job_id, {"completed", "failed"})["status"] == "completed"
    results = store.conn.execute("SELECT result FROM items WHERE job_id = ?", (job_id,))
    assert {row["result"] for row in results} == {"3"}
