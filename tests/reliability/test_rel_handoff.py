"""A burst of `jobcore run` handed to the dispatcher while it is killed with -9 at random
moments of its taking launches (mid-request among them): every run succeeds and names one
job, no job is made twice or without its run, and each command runs once."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path

import psutil

from jobcore.ops.launch_socket import SOCKET_NAME
from jobcore.state.store import Store
from tests.conftest import CLI, dispatchers_of
from tests.reliability.support import burst_under_attack

LAUNCHES = 60
LIFE_S = 0.3  # a dispatcher is killed at a random moment this long after it listens


def listening(proc: psutil.Process) -> bool:
    """Whether the dispatcher takes launches yet: killing it sooner tests no hand-off (on a
    busy machine its start outlasts a fixed random wait)."""
    try:
        return any(conn.laddr.endswith(SOCKET_NAME) for conn in proc.net_connections("unix"))
    except psutil.Error:
        return False


def test_dispatcher_killed_at_random_during_handed_off_launches(
    cli: CLI, store: Store, tmp_path: Path
) -> None:
    kills: list[int] = []

    def attack(stop: threading.Event) -> None:
        rng = random.Random()
        doom: dict[int, float] = {}  # a listening dispatcher's pid: when it is killed
        while not stop.wait(0.02):
            for proc in dispatchers_of(cli.home):
                if proc.pid not in doom and listening(proc):
                    doom[proc.pid] = time.monotonic() + rng.uniform(0, LIFE_S)
                if proc.pid in kills or doom.get(proc.pid, float("inf")) > time.monotonic():
                    continue
                try:
                    proc.kill()
                except psutil.NoSuchProcess:
                    continue
                kills.append(proc.pid)

    runs, printed, made, started = burst_under_attack(cli, store, tmp_path, LAUNCHES, attack)
    starters = [  # a handed-off job was made, claimed and started by a dispatcher
        store.conn.execute("SELECT claimer_pid FROM jobs WHERE id = ?", (i,)).fetchone()[0]
        for i in made
    ]
    handed = sum(pid in kills for pid in starters)
    print(
        f"{LAUNCHES} launches, dispatcher killed {len(kills)} times: {len(made)} jobs made, "
        f"{handed} of them by a dispatcher later killed, {sum(started.values())} commands started"
    )
    assert kills and handed
    assert [run.returncode for run in runs] == [0] * LAUNCHES, [r.stderr for r in runs]
    assert len(set(printed)) == LAUNCHES  # one job per run, none shared
    assert made == set(printed)  # no job made twice, none without the run that asked
    assert started == Counter(printed)  # each command ran once
    assert {store.get(i).status.value for i in made} == {"completed"}
