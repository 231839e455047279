"""Workers killed with -9 at random moments while a queue drains through ``--parallel 2``:
every job ends exactly once, none runs twice, the limit holds and the queue drains with no
command run to help it (the dispatcher sees each death through its pidfd).

Workers are forks here (of the dispatcher, of the CLI, of one another), so this also proves
that a kill lands on one job's worker only: every job that was not killed completes.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from pathlib import Path

from jobcore.state.models import JobStatus
from jobcore.state.store import Store
from tests.conftest import CLI, wait_for
from tests.reliability.test_rel_dispatch import _commands_running

JOBS = 300
LIMIT = 2
FINAL_KINDS = {status.value for status in JobStatus if status.is_final} | {"killed"}


def _workers(home: Path) -> list[int]:
    """Pids of this state folder's workers (forked: named ``jobcore-ID``; or spawned),
    found by the marker each shows in /proc, whatever phase it is in."""
    prefix = f"JOBCORE_JOB={os.path.realpath(home)}/jobs/".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/comm", "rb") as fh:
                comm = fh.read()
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                cmdline = fh.read()
            with open(f"/proc/{name}/environ", "rb") as fh:
                environ = fh.read().split(b"\0")
        except OSError:
            continue
        is_worker = comm.startswith(b"jobcore-") or b"jobcore.worker" in cmdline
        if is_worker and any(entry.startswith(prefix) for entry in environ):
            found.append(int(name))
    return found


def test_workers_killed_at_random_during_a_drain(cli: CLI, store: Store, tmp_path: Path) -> None:
    starts = tmp_path / "starts.txt"
    cli("group", "add", "pair", "--parallel", str(LIMIT))
    gate = tmp_path / "gate"
    hold = f'while [ ! -e "{gate}" ]; do sleep 0.02; done'
    for _ in range(LIMIT):  # the line fills up behind these before the drain begins
        cli.run("sh", "-c", hold, opts=("--group", "pair"))
    script = f'echo "$JOBCORE_JOB_ID" >> {starts}; sleep 0.05'
    ids = [cli.run("sh", "-c", script, opts=("--group", "pair")) for _ in range(JOBS)]
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(_commands_running(cli.home))
            time.sleep(0.05)

    def all_final() -> bool:
        placeholders = ",".join("?" * len(ids))
        return not store.conn.execute(
            f"SELECT 1 FROM jobs WHERE id IN ({placeholders}) AND status IN ('queued', 'running')",
            ids,
        ).fetchone()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    rng = random.Random()
    killed: set[int] = set()
    gate.touch()
    try:
        deadline = time.monotonic() + 240
        while not all_final() and time.monotonic() < deadline:
            time.sleep(rng.uniform(0.0, 0.25))
            workers = _workers(cli.home)
            if workers:
                victim = rng.choice(workers)
                try:
                    os.kill(victim, 9)
                    killed.add(victim)
                except ProcessLookupError:
                    pass
        wait_for(all_final, timeout=60)
    finally:
        done.set()
        sampler.join()
    statuses = Counter(store.get(i).status.value for i in ids)
    runs = Counter(starts.read_text().split())
    twice = [i for i, n in runs.items() if n > 1]
    endings = Counter(
        row["job_id"]
        for row in store.conn.execute("SELECT job_id, kind FROM events")
        if row["kind"] in FINAL_KINDS
    )
    ended_twice = [i for i in ids if endings[i] != 1]
    failed = [store.get(i) for i in ids if store.get(i).status is not JobStatus.COMPLETED]
    print(
        f"{JOBS} jobs through --parallel {LIMIT}, {len(killed)} workers killed: {statuses}, "
        f"{len(twice)} started twice, {len(ended_twice)} not ended exactly once, "
        f"at most {max(samples)} commands at once over {len(samples)} samples"
    )
    assert killed
    assert not twice and not ended_twice
    assert statuses["completed"] + statuses["failed"] == JOBS
    # Only a killed worker's own job fails, and says why.
    assert all(job.reason == "worker died unexpectedly" for job in failed)
    assert len(failed) <= len(killed)
    assert max(samples) <= LIMIT
