"""A batch on a Dask cluster against the same batch on this machine.

2,000 items of ``true``: ``jobcore run --each FILE --cluster ADDR -j N -- true`` on a loopback
cluster (a ``dask scheduler`` and two ``dask worker --nthreads 1 --no-nanny`` on 127.0.0.1,
started here and killed after) against ``jobcore run --each FILE -j 2 -- true``, round-robin.
Per item: from the ``jobcore run`` call to the worker's exit, and started_at → finished_at
from the database (the driver's connection to the scheduler included: it is part of the
run). The cluster is run with ``-j 2`` (as many items in flight as it has threads) and with
``-j 8`` (items queued on the workers, so none waits for a round trip to the driver).
Target: <= 5 ms per item on the cluster. Skipped (an error row) without Dask installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.bench_batch import _BatchRunner, _item_file
from benchmarks.common import interleaved, median, row, sections, temp_home, wait_until

ITEMS = 2_000
ROUNDS = 2
WORKERS = 2


@contextlib.contextmanager
def loopback_cluster(folder: Path) -> Iterator[str]:
    """A scheduler and ``WORKERS`` one-thread workers on 127.0.0.1; yields the address."""
    from distributed import Client

    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> None:
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "dask", *args, "--no-dashboard"],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )

    sched = folder / "scheduler.json"
    sched.unlink(missing_ok=True)
    try:
        start("scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(sched))
        wait_until(lambda: sched.exists() and sched.stat().st_size > 0, 30, 0.05)
        address = json.loads(sched.read_text())["address"]
        for _ in range(WORKERS):
            start("worker", address, "--nthreads", "1", "--no-nanny")
        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(WORKERS, timeout=60)
        yield address
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _rows() -> list[dict[str, Any]]:
    with temp_home() as home:
        folder = home.parent
        items = _item_file(folder, ITEMS)
        warm = _item_file(folder, 50)
        with loopback_cluster(folder) as address:
            cluster = ("--each", str(items), "--cluster", address)
            runners = {
                "cluster -j 2": _BatchRunner(home, *cluster, "-j", "2", "--", "true"),
                "cluster -j 8": _BatchRunner(home, *cluster, "-j", "8", "--", "true"),
                "local -j 2": _BatchRunner(home, "--each", str(items), "-j", "2", "--", "true"),
            }
            try:
                _BatchRunner(home, "--each", str(warm), "--cluster", address, "--", "true")()
                started = time.perf_counter()
                times = interleaved(runners, ROUNDS, warmup=0)
                spent = time.perf_counter() - started
            finally:
                for runner in runners.values():
                    runner.close()
    per = 1000.0 / ITEMS
    local_wall = median(times["local -j 2"]) * per
    local_inner = median(runners["local -j 2"].in_worker) * per
    rows = []
    for name in ("cluster -j 2", "cluster -j 8"):
        rows.append(
            row(
                f"batch of {ITEMS:,} x true on a 2-worker loopback cluster, {name[8:]}:"
                " wall per item (median)",
                median(times[name]) * per,
                "ms/item",
                peer_name="the same batch locally, -j 2",
                peer=local_wall,
                target="<= 5",
                note=f"{ROUNDS} rounds side by side, from the `jobcore run` call to the"
                f" driver's exit; all rounds took {spent:.0f} s",
            )
        )
        rows.append(
            row(
                f"the same, {name[8:]}: started_at -> finished_at per item (median)",
                median(runners[name].in_worker) * per,
                "ms/item",
                peer_name="locally, -j 2 (in-worker)",
                peer=local_inner,
                target="<= 5",
                note="the driver's connection to the scheduler is inside this span",
            )
        )
    return rows


def run() -> list[dict[str, Any]]:
    return sections(_rows)


if __name__ == "__main__":
    from benchmarks.run import table

    print(table(run()))
