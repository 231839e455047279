"""Scheduling overhead of a batch, against ``xargs -P``, and ``--call`` throughput.

- 2,000 items of ``true`` with ``jobcore run --each FILE -j 2 -- true`` against
  ``xargs -P 2 -I{} true {}`` over the same item file, side by side (round-robin). jobcore is
  timed from the ``jobcore run`` call to its worker's exit (a pidfd, no polling); its
  started_at/finished_at from the database give the in-worker part without launch and
  worker start-up. Reported per item (ms/item) and as a ratio (target <= 1.5x).
- A Python batch (``--call benchmarks.noop_items:noop -j 2``, ``--cwd`` the repo root) of a
  no-op function, with threads and with ``--processes``: items/s from started_at to
  finished_at (the launch-inclusive figure in the note).
"""

from __future__ import annotations

import contextlib
import os
import select
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO,
    env_for,
    interleaved,
    jobcore_argv,
    median,
    ms,
    open_store,
    row,
    sections,
    temp_home,
    time_once,
    wait_job_finished,
)

ITEMS = 2_000
PARALLEL = 2
ROUNDS = 3
CALL_ITEMS = 1_000
CALL_ROUNDS = 2
NOOP = "benchmarks.noop_items:noop"


def _item_file(folder: Path, count: int) -> Path:
    path = folder / f"items-{count}.txt"
    path.write_text("".join(f"item-{i:05d}\n" for i in range(count)), encoding="utf-8")
    return path


class _BatchRunner:
    """One timed batch: ``jobcore run --each ...`` until the job is final (all in the timing)."""

    def __init__(self, home: Path, *args: str, timeout: float = 120) -> None:
        self.home = home
        self.args = args
        self.env = env_for(home)
        self.timeout = timeout
        self.store: Any = None
        self.in_worker: list[float] = []
        """started_at → finished_at of each run (seconds), read from the database."""

    def __call__(self) -> float:
        start = time.perf_counter()
        _, proc = time_once(jobcore_argv("run", "-q", *self.args), env=self.env)
        job_id = proc.stdout.decode().strip()
        if self.store is None:
            self.store = open_store(self.home)
        self._wait_final(job_id)
        elapsed = time.perf_counter() - start
        job = self.store.get(job_id)
        if job.status.value != "completed":
            raise RuntimeError(f"batch {job_id} ended {job.status.value}: {job.reason}")
        self.in_worker.append(job.finished_at - job.started_at)
        wait_job_finished(self.store, job_id, timeout=self.timeout)  # worker gone (untimed)
        return elapsed

    def _wait_final(self, job_id: str) -> None:
        """Until the worker exits, watched through a pidfd: a polling loop here would take
        CPU from the batch being timed (xargs is timed with nobody polling it)."""
        worker = self.store.get(job_id).worker
        if worker is not None:
            with contextlib.suppress(ProcessLookupError):
                pidfd = os.pidfd_open(worker.pid)
                try:
                    if not select.select([pidfd], [], [], self.timeout)[0]:
                        raise TimeoutError(f"batch {job_id} still running after {self.timeout}s")
                finally:
                    os.close(pidfd)
        if not self.store.get(job_id).status.is_final:
            raise RuntimeError(f"batch {job_id}: worker gone, job not final")

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def _xargs_runner(items: Path, env: dict[str, str]) -> Any:
    argv = ["xargs", "-a", str(items), "-P", str(PARALLEL), "-I{}", "true", "{}"]

    def once() -> float:
        return time_once(argv, env=env, timeout=120)[0]

    return once


def _overhead_rows() -> list[dict[str, Any]]:
    with temp_home() as home:
        items = _item_file(home.parent, ITEMS)
        warm = _item_file(home.parent, 50)
        jobcore = _BatchRunner(home, "--each", str(items), "-j", str(PARALLEL), "--", "true")
        try:
            # Warm-up: a small batch (bytecode, page cache, the database) rather than a whole
            # round of 2,000, to keep the module within a minute.
            _BatchRunner(home, "--each", str(warm), "-j", str(PARALLEL), "--", "true")()
            times = interleaved(
                {"jobcore": jobcore, "xargs": _xargs_runner(items, env_for(home))},
                ROUNDS,
                warmup=0,
            )
        finally:
            jobcore.close()
    jc, xa, inner = times["jobcore"], times["xargs"], jobcore.in_worker
    per = 1000.0 / ITEMS  # seconds per run -> ms per item
    extra = (median(jc) - median(xa)) * per
    note = (
        f"{ITEMS:,} items, -j {PARALLEL}, {ROUNDS} rounds side by side; jobcore from the"
        f" `jobcore run` call to its worker's exit; jobcore minus xargs ="
        f" {extra:.2f} ms/item"
    )
    return [
        row(
            f"batch of {ITEMS:,} x true -j {PARALLEL}: wall per item (median)",
            median(jc) * per,
            "ms/item",
            peer_name=f"xargs -P {PARALLEL} -I{{}} true {{}}",
            peer=median(xa) * per,
            target="<= 1.5x",
            note=note,
        ),
        row(
            f"batch of {ITEMS:,} x true -j {PARALLEL}: wall per item (worst of {ROUNDS})",
            max(jc) * per,
            "ms/item",
            peer_name=f"xargs -P {PARALLEL} (worst)",
            peer=max(xa) * per,
            target="<= 1.5x",
        ),
        row(
            f"batch of {ITEMS:,} x true: started_at -> finished_at per item (median)",
            median(inner) * per,
            "ms/item",
            peer_name=f"xargs -P {PARALLEL} (median)",
            peer=median(xa) * per,
            target="<= 1.5x",
            note="in-worker part only (no CLI launch, no worker start-up), from the database",
        ),
        row(
            "batch launch + worker start-up (wall - in-worker, median)",
            ms(median([w - i for w, i in zip(jc, inner, strict=True)])),
            "ms",
            note="per batch, paid once: CLI, item insert, worker spawn, final poll",
        ),
    ]


def _serial_rows() -> list[dict[str, Any]]:
    """-j 1: every item waits for the previous one, so any idle wait per item shows here."""
    count = 300
    with temp_home() as home:
        items = _item_file(home.parent, count)
        jobcore = _BatchRunner(home, "--each", str(items), "-j", "1", "--", "true")
        argv = ["xargs", "-a", str(items), "-P", "1", "-I{}", "true", "{}"]
        try:
            times = interleaved(
                {"jobcore": jobcore, "xargs": lambda: time_once(argv, env=env_for(home))[0]},
                ROUNDS,
                warmup=0,
            )
        finally:
            jobcore.close()
    per = 1000.0 / count
    return [
        row(
            f"batch of {count} x true -j 1: in-worker per item (median)",
            median(jobcore.in_worker) * per,
            "ms/item",
            peer_name="xargs -P 1 -I{} true {}",
            peer=median(times["xargs"]) * per,
            target="-",
            note="serial items: an idle tick per item would show as ~200 ms/item",
        ),
    ]


def _call_rows() -> list[dict[str, Any]]:
    rows = []
    with temp_home() as home:
        items = _item_file(home.parent, CALL_ITEMS)
        base = ("--each", str(items), "--call", NOOP, "-j", str(PARALLEL), "--cwd", str(REPO))
        runners = {
            "threads": _BatchRunner(home, *base),
            "processes": _BatchRunner(home, *base, "--processes"),
        }
        try:
            times = interleaved(runners, CALL_ROUNDS, warmup=1)
        finally:
            for runner in runners.values():
                runner.close()
        for mode, runner in runners.items():
            inner = runner.in_worker[1:]  # the warm-up round is not in `times`
            wall = times[mode]
            rows.append(
                row(
                    f"--call no-op batch, {CALL_ITEMS:,} items -j {PARALLEL}, {mode} (median)",
                    CALL_ITEMS / median(inner),
                    "items/s",
                    note=(
                        f"started_at -> finished_at; worst {CALL_ITEMS / max(inner):.0f} items/s;"
                        f" launch to final {CALL_ITEMS / median(wall):.0f} items/s"
                        f" ({ms(median(wall)):.0f} ms)"
                    ),
                )
            )
    return rows


def run() -> list[dict[str, Any]]:
    return sections(_overhead_rows, _serial_rows, _call_rows)


if __name__ == "__main__":
    from benchmarks.run import table

    print(table(run()))
