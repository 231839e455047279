"""A database that cannot be written for now: the retry policy, and who waits and who fails.

The whole story with real processes (a lock held beside running jobs, a full disk) is in
tests/reliability/test_rel_faults.py; here are the rules, with a fake clock.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from jobcore.base.errors import JobcoreError, StoreUnavailable
from jobcore.base.progress_parse import ProgressUpdate
from jobcore.state.patience import MAX_PAUSE_S, Patience
from jobcore.state.reporter import Reporter
from jobcore.state.store import Store
from tests.reliability.support import LOCK_HOLDER


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def _failing(times: int, error: Exception):
    calls = {"n": 0}

    def write() -> str:
        calls["n"] += 1
        if calls["n"] <= times:
            raise error
        return "written"

    return write, calls


def test_a_worker_waits_with_capped_backoff_and_says_so_twice() -> None:
    fake, notes = FakeTime(), []
    patience = Patience(
        forever=True, note=notes.append, note_after_s=5.0, clock=lambda: fake.now, sleep=fake.sleep
    )
    write, calls = _failing(20, StoreUnavailable("state database x is locked"))
    assert patience.call(write) == "written"
    assert calls["n"] == 21
    assert max(fake.pauses) == MAX_PAUSE_S and fake.pauses[0] < fake.pauses[1]
    assert len(notes) == 2, notes
    assert notes[0].startswith("jobcore: database unavailable (state database x is locked)")
    assert notes[1].startswith("jobcore: database writable again after ")
    # A short outage (under note_after_s) is not worth a line.
    short = sqlite3.OperationalError("database is locked")
    short.sqlite_errorcode = sqlite3.SQLITE_BUSY  # as sqlite3 sets it on a read
    assert patience.call(_failing(2, short)[0]) == "written"
    assert len(notes) == 2


def test_a_command_fails_fast_and_other_errors_are_never_retried() -> None:
    fake = FakeTime()
    fail_fast = Patience(clock=lambda: fake.now, sleep=fake.sleep)
    write, calls = _failing(1, StoreUnavailable("state database x is locked"))
    with pytest.raises(StoreUnavailable):
        fail_fast.call(write)
    assert calls["n"] == 1 and fake.pauses == []
    patient = Patience(forever=True, clock=lambda: fake.now, sleep=fake.sleep)
    write, calls = _failing(1, JobcoreError("no job with id 'abcde'"))
    with pytest.raises(JobcoreError):
        patient.call(write)
    assert calls["n"] == 1


def test_attempt_never_waits_and_keeps_to_the_backoff() -> None:
    fake = FakeTime()
    patience = Patience(forever=True, clock=lambda: fake.now, sleep=fake.sleep)
    write, calls = _failing(1, StoreUnavailable("disk is full"))
    assert patience.attempt(write) is False
    assert patience.attempt(write) is False and calls["n"] == 1  # backing off: not tried
    fake.now += patience.wait_s()
    assert patience.attempt(write) is True and calls["n"] == 2
    assert fake.pauses == []


def test_progress_is_kept_while_another_process_holds_the_lock(store: Store) -> None:
    """Updates made while the lock is held are merged in memory, then written whole."""
    job = store.create_job(["true"], "/", {}, None)
    fake = FakeTime()
    store.patience = Patience(forever=True, clock=lambda: fake.now, sleep=fake.sleep)
    reporter = Reporter(store, job.id, interval=0.0, clock=lambda: fake.now)
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(Path(store.state.db_path))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        for i in range(1, 6):
            reporter.update(ProgressUpdate(done=i, total=10, item=f"item {i}"))
            fake.now += 10  # past any backoff: every update tries (briefly) and is kept
        assert reporter.writes == 0 and store.patience.down_since is not None
    finally:
        holder.stdin.write("go\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    reporter.update(ProgressUpdate(advance=1))
    assert reporter.writes == 1
    got = store.get(job.id)
    assert (got.done, got.total, got.current_item) == (6, 10, "item 5")
