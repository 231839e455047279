"""kill -9 of the worker at random moments of a 500-item batch, resumed until done."""

from __future__ import annotations

import contextlib
import random
import signal
import time
from collections import Counter
from pathlib import Path

import psutil

from tests.conftest import CLI, wait_for

ITEMS = 500
PARALLEL = 4


def test_random_kill_9_of_a_500_item_batch_loses_nothing(cli: CLI, tmp_path: Path) -> None:
    record = tmp_path / "record.txt"
    items = tmp_path / "items.txt"
    items.write_text("".join(f"item-{i}\n" for i in range(ITEMS)))
    script = f'echo "start $0" >> {record}; sleep 0.01; echo "done $0" >> {record}'
    job_id = cli.run("sh", "-c", script, "{}", opts=("--each", str(items), "-j", str(PARALLEL)))
    rng = random.Random(1234)
    kills = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        data = cli.wait_status(job_id, {"running", "completed", "failed"})
        if data["status"] == "completed":
            break
        if data["status"] == "failed":
            assert data["error"] == "worker died unexpectedly"
            cli("resume", job_id)
            continue
        if kills < 4 and data["done"] < ITEMS - 50:
            time.sleep(rng.uniform(0.05, 0.4))
            with contextlib.suppress(psutil.Error):
                psutil.Process(data["pid"]).send_signal(signal.SIGKILL)
            kills += 1
            wait_for(lambda: cli.show(job_id)["status"] != "running")
        else:
            time.sleep(0.1)
    data = cli.show(job_id)
    assert data["status"] == "completed" and data["done"] == ITEMS
    starts: Counter[str] = Counter()
    dones: Counter[str] = Counter()
    for line in record.read_text().splitlines():
        kind, _, item = line.partition(" ")
        (starts if kind == "start" else dones)[item] += 1
    lost = [f"item-{i}" for i in range(ITEMS) if not dones[f"item-{i}"]]
    rerun = {item for item, n in starts.items() if n > 1}
    twice = {item for item, n in dones.items() if n > 1}
    print(
        f"{kills} kill -9s: {len(lost)} lost, {len(twice)} done twice, "
        f"{len(rerun)} re-run (at most {PARALLEL} in flight per kill)"
    )
    assert lost == []
    assert twice <= rerun
    assert len(rerun) <= PARALLEL * kills
