"""The dispatcher killed with -9 at random moments during a drain: nothing lost, nothing
run twice, the group limit never exceeded."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

from jobcore.state.store import Store
from tests.conftest import CLI, dispatchers_of, wait_for
from tests.reliability.support import commands_running, sampled

JOBS = 100
LIMIT = 2


def test_dispatcher_killed_at_random_during_a_drain(cli: CLI, store: Store, tmp_path: Path) -> None:
    starts = tmp_path / "starts.txt"
    cli("group", "add", "pair", "--parallel", str(LIMIT))
    gate = tmp_path / "gate"
    hold = f'while [ ! -e "{gate}" ]; do sleep 0.05; done'
    for _ in range(LIMIT):  # the line fills up behind these before the drain begins
        cli.run("sh", "-c", hold, opts=("--group", "pair"))
    script = f'echo "$JOBCORE_JOB_ID" >> {starts}; sleep 0.1'
    ids = [cli.run("sh", "-c", script, opts=("--group", "pair")) for _ in range(JOBS)]
    kills = 0
    rng = random.Random()
    gate.touch()
    with sampled(lambda: commands_running(cli.home)) as samples:
        while not all(store.get(i).status.is_final for i in ids):
            time.sleep(rng.uniform(0.05, 0.6))  # the attack's timing: a random moment
            for proc in dispatchers_of(cli.home):
                proc.kill()
                kills += 1
            cli("ls")  # finds work waiting and no dispatcher: starts one
        wait_for(lambda: all(store.get(i).status.is_final for i in ids), timeout=120)
    statuses = Counter(store.get(i).status.value for i in ids)
    runs = Counter(starts.read_text().split())
    twice = [i for i, n in runs.items() if n > 1]
    lost = [i for i in ids if runs[i] == 0]
    print(
        f"{JOBS} jobs through --parallel {LIMIT}, dispatcher killed {kills} times: {statuses}, "
        f"{len(lost)} lost, {len(twice)} started twice, at most {max(samples)} commands at once "
        f"over {len(samples)} samples"
    )
    assert kills > 0
    assert statuses == {"completed": JOBS}
    assert not lost and not twice
    assert max(samples) <= LIMIT
