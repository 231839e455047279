"""A batch's worker under stop and shutdown: zombies, the stop's grace, a system SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import psutil

from jobcore.state.paths import StateDir
from tests.conftest import CLI, wait_for
from tests.test_batch_stop import (
    _items,
    _running,
    run_items_leaving_children,
    session_of,
    trapping_item,
    zombies_under,
)


def test_200_items_leaving_background_children_leave_no_zombie(cli: CLI, tmp_path: Path) -> None:
    job_id, worker = run_items_leaving_children(cli, tmp_path, 200)
    wait_for(lambda: zombies_under(worker) == 0, timeout=10)
    zombies = zombies_under(worker)
    (tmp_path / "go").touch()
    assert cli.wait_status(job_id, {"completed", "failed"})["status"] == "completed"
    print(f"200 items leaving background children: {zombies} zombies under the live worker")
    assert zombies == 0


def test_grace_10_lets_a_batch_items_cleanup_complete(
    cli: CLI, state: StateDir, tmp_path: Path
) -> None:
    each = _items(tmp_path, ["a"])
    job_id = cli.run(*trapping_item(tmp_path, 2), opts=("--each", str(each)))
    wait_for(lambda: b"hello a" in state.log_path(job_id).read_bytes())
    cli("stop", "--grace", "10", job_id, timeout=60)
    data = cli.show(job_id)
    completed = (tmp_path / "cleaned-a").exists()
    said_bye = b"bye a" in state.log_path(job_id).read_bytes()
    print(
        f"--grace 10 on a batch item with a 2 s TERM cleanup: cleanup "
        f"{'completed' if completed else 'CUT'}, last output {'kept' if said_bye else 'LOST'}, "
        f"job {data['status']}, {data['items']['pending']} item pending"
    )
    assert completed and said_bye
    assert data["status"] == "paused" and data["items"]["pending"] == 1


def test_system_sigterm_to_a_running_batch_fails_no_item(cli: CLI, tmp_path: Path) -> None:
    done = tmp_path / "done.txt"
    items = [f"i{k}" for k in range(300)]
    each = _items(tmp_path, items)
    job_id = cli.run(
        "sh", "-c", f'sleep 0.05; echo "$0" >> {done}', "{}", opts=("--each", str(each), "-j", "8")
    )
    data = wait_for(lambda: (d := cli.show(job_id))["done"] >= 100 and d, timeout=60)
    worker = data["pid"]
    victims = session_of(worker)
    for proc in victims:  # the items first, the worker a moment later, as at a shutdown
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGTERM)
    wait_for(lambda: not any(_running(p) for p in victims), timeout=10, interval=0.01)
    os.kill(worker, signal.SIGTERM)
    ended = cli.wait_status(job_id, {"failed", "paused", "completed"})
    failed_at_shutdown = ended["items"]["failed"]
    cli("resume", job_id)
    data = cli.wait_status(job_id, {"failed", "paused", "completed"}, timeout=120)
    lines = done.read_text().split()
    twice = len(lines) - len(set(lines))
    print(
        f"system SIGTERM to a 300-item batch ({len(victims)} item processes hit first): "
        f"{failed_at_shutdown} items failed; after resume {data['status']}, "
        f"{data['items']['failed']} failed, {len(set(lines))} done, {twice} done twice"
    )
    assert ended["error"] == "worker was terminated (SIGTERM)"
    assert failed_at_shutdown == 0 and data["status"] == "completed"
    assert sorted(lines) == sorted(items)
