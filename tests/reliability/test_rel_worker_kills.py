"""Workers killed with -9 at random moments while a queue drains through ``--parallel 2``:
every job ends exactly once, none runs twice, the limit holds and the queue drains with no
command run to help it (the dispatcher sees each death through its pidfd; the last deaths,
once nothing waits, are recorded by the next reading command, as any dead worker's are).

Workers are forks here (of the dispatcher, of the CLI, of one another), so this also proves
that a kill lands on one job's worker only: every job that was not killed completes.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from jobcore.state.models import JobStatus
from jobcore.state.store import Store
from tests.conftest import CLI, wait_for
from tests.reliability.support import commands_running, sampled

JOBS = 300
LIMIT = 2
FINAL_KINDS = {status.value for status in JobStatus if status.is_final} | {"killed"}


def _workers(home: Path) -> dict[int, str]:
    """This state folder's workers (forked: named ``jobcore-ID``; or spawned), whatever
    phase they are in, with the job each shows as its own in /proc (pid: job id). A forked
    worker's command is named so too until it execs: it shows the same job."""
    prefix = f"JOBCORE_JOB={os.path.realpath(home)}/jobs/".encode()
    found = {}
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
        marker = next((entry for entry in environ if entry.startswith(prefix)), None)
        if marker and (comm.startswith(b"jobcore-") or b"jobcore.worker" in cmdline):
            found[int(name)] = marker[len(prefix) :].decode()
    return found


@pytest.mark.timeout(420)  # 300 jobs on a shared 2-core machine
def test_workers_killed_at_random_during_a_drain(cli: CLI, store: Store, tmp_path: Path) -> None:
    starts = tmp_path / "starts.txt"
    cli("group", "add", "pair", "--parallel", str(LIMIT))
    gate = tmp_path / "gate"
    hold = f'while [ ! -e "{gate}" ]; do sleep 0.02; done'
    for _ in range(LIMIT):  # the line fills up behind these before the drain begins
        cli.run("sh", "-c", hold, opts=("--group", "pair"))
    script = f'echo "$JOBCORE_JOB_ID" >> {starts}; sleep 0.05'
    ids = [cli.run("sh", "-c", script, opts=("--group", "pair")) for _ in range(JOBS)]

    def any_in(statuses: str) -> bool:
        placeholders = ",".join("?" * len(ids))
        return bool(
            store.conn.execute(
                f"SELECT 1 FROM jobs WHERE id IN ({placeholders}) AND status IN ({statuses})", ids
            ).fetchone()
        )

    def all_final_once_read() -> bool:
        """A reading command records the death of a worker killed last (no dispatcher
        lives once nothing waits: readers reconcile)."""
        cli("ls")
        return not any_in("'queued', 'running'")

    rng = random.Random()
    killed: set[int] = set()
    victims: set[str] = set()
    """The jobs whose process was killed: the only ones that may fail."""
    gate.touch()
    with sampled(lambda: commands_running(cli.home)) as samples:
        deadline = time.monotonic() + 240
        while any_in("'queued'") and time.monotonic() < deadline:
            time.sleep(rng.uniform(0.0, 0.25))  # the attack's timing: a random moment
            workers = _workers(cli.home)
            if workers:
                victim = rng.choice(sorted(workers))
                try:
                    os.kill(victim, 9)
                    killed.add(victim)
                    victims.add(workers[victim])
                except ProcessLookupError:
                    pass
        assert not any_in("'queued'"), "the queue did not drain by itself"
        wait_for(all_final_once_read, timeout=60, interval=0.5)
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
    # Only a job whose own process was killed fails: a kill never reaches another job.
    assert {job.id for job in failed} <= victims
    assert {job.reason for job in failed} <= {"worker died unexpectedly", "killed by SIGKILL"}
    assert max(samples) <= LIMIT
