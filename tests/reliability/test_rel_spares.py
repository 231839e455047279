"""A burst of `jobcore run` handed to the dispatcher while its spare maker and its spare
workers are killed with -9 at random moments (a spare while it still names itself one: it
is frozen, looked at, then killed or let go): every run succeeds and names one job, no
command runs twice, and every job ends. A job ends failed only where its spare was killed
after being handed it (the message already in its socket, unread): its command never ran.
Decision records 0029 and 0030."""

from __future__ import annotations

import contextlib
import random
import signal
import threading
from collections import Counter
from pathlib import Path

import psutil

from jobcore.state.store import Store
from tests.conftest import CLI
from tests.reliability.support import burst_under_attack

LAUNCHES = 60
KINDS = ("jobcore-spare", "jobcore-spares")


def _kill_if_still(proc: psutil.Process, kind: str) -> bool:
    """SIGKILL ``proc`` if, frozen, it still is a ``kind`` (a spare handed a job names itself
    as the job's worker: that one is let go)."""
    try:
        proc.send_signal(signal.SIGSTOP)
    except psutil.Error:
        return False
    try:
        if proc.cmdline()[:1] == [kind]:
            proc.kill()
            return True
    except psutil.Error:
        return False
    with contextlib.suppress(psutil.Error):
        proc.send_signal(signal.SIGCONT)
    return False


def test_spares_and_their_maker_killed_at_random_during_handed_off_launches(
    cli: CLI, store: Store, tmp_path: Path
) -> None:
    home = str(cli.home)
    kills: Counter[str] = Counter()

    def attack(stop: threading.Event) -> None:
        rng = random.Random()
        while not stop.wait(rng.uniform(0.005, 0.05)):
            for proc in psutil.process_iter():
                with contextlib.suppress(psutil.Error):
                    kind, folder = (*proc.cmdline()[:2], "", "")[:2]
                    chosen = folder == home and kind in KINDS and rng.random() < 0.5
                    if chosen and _kill_if_still(proc, kind):
                        kills[kind] += 1

    runs, printed, made, started = burst_under_attack(cli, store, tmp_path, LAUNCHES, attack)
    ended = {i: (store.get(i).status.value, store.get(i).reason) for i in made}
    lost = {i for i in made if ended[i] == ("failed", "worker died unexpectedly")}
    print(f"{LAUNCHES} launches; killed: {dict(kills)}; {len(lost)} failed with their spare")
    assert kills["jobcore-spare"] and kills["jobcore-spares"]
    assert [run.returncode for run in runs] == [0] * LAUNCHES, [r.stderr for r in runs]
    assert len(set(printed)) == LAUNCHES  # one job per run, none shared
    assert made == set(printed)  # no job made twice, none without the run that asked
    assert set(started.values()) == {1}  # no command ran twice
    assert set(started) == made - lost  # and every other ran
    assert {ended[i] for i in made - lost} == {("completed", None)}
    assert len(lost) <= kills["jobcore-spare"]
