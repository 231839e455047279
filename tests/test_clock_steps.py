"""A step of the wall clock (NTP, an admin, a VM resumed) moves no duration.

The real clock cannot be stepped in a test, so the step is made where Python reads it:
``time.time`` (what a step of the system clock changes) is moved by an hour, while the boot
clock (``jobcore.base.clock.since_boot``, CLOCK_BOOTTIME) carries on. Everything else is real: the
state database, the queue's rows, the ledger, the worker's wait.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from jobcore.base import clock
from jobcore.ops import dispatch
from jobcore.ops.reconcile import reconcile
from jobcore.procs.identity import self_identity
from jobcore.state.items import Outcome
from jobcore.state.models import JobStatus
from jobcore.state.store import Store
from jobcore.worker.ledger import Ledger
from tests.rows import set_row

HOUR = 3600.0


class SteppedClock:
    """The wall clock ``step`` seconds off the real one; the boot clock untouched, unless
    ``fake_boot`` makes it (and ``time.sleep``) a counter that moves only when slept on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.step = 0.0
        self.real_time = time.time
        monkeypatch.setattr(time, "time", lambda: self.real_time() + self.step)

    def fake_boot(self, on_sleep=lambda: None) -> None:
        self.boot = clock.since_boot()
        self.slept = 0.0

        def sleep(seconds: float) -> None:
            self.boot += seconds
            self.slept += seconds
            on_sleep()

        self.monkeypatch.setattr(clock, "since_boot", lambda: self.boot)
        self.monkeypatch.setattr(time, "sleep", sleep)


@pytest.fixture
def stepped(monkeypatch: pytest.MonkeyPatch) -> Iterator[SteppedClock]:
    yield SteppedClock(monkeypatch)


@pytest.mark.parametrize("step", [HOUR, -HOUR])
def test_a_waiting_job_is_not_failed_by_a_step_of_the_clock(
    store: Store, stepped: SteppedClock, step: float
) -> None:
    """Queued with no worker: it waits as a row, whatever the clocks do (it used to be
    failed as "launcher died" once a grace had passed)."""
    job = store.create_job(["true"], "/", {}, None)
    stepped.step = step
    later = clock.since_boot() + HOUR
    stepped.monkeypatch.setattr(clock, "since_boot", lambda: later)
    reconcile(store)
    assert store.get(job.id).status is JobStatus.QUEUED


@pytest.mark.parametrize("step", [HOUR, -HOUR])
def test_an_items_backoff_survives_a_step_of_the_clock(
    store: Store, stepped: SteppedClock, step: float
) -> None:
    """An item that failed waits its backoff (10-30 s here) before its retry, however the
    wall clock moves meanwhile (a step forward used to release it at once)."""
    job = store.create_job(["true"], "/", {}, None, spec={"each": True}, items=["a"])
    ledger = Ledger(store, job.id, retries=2, backoff=20.0)
    record = ledger.take()
    assert record is not None
    ledger.ended([(record, Outcome(ok=False, exit_code=1, error="boom"))])
    stepped.step = step
    assert Ledger(store, job.id, retries=2, backoff=20.0).take() is None
    # Once the backoff is over on the boot clock, the item is ready, wall clock or not.
    later = clock.since_boot() + 31
    stepped.monkeypatch.setattr(clock, "since_boot", lambda: later)
    retried = Ledger(store, job.id, retries=2, backoff=20.0).take()
    assert retried is not None and retried.item == "a" and retried.attempts == 2


@pytest.mark.parametrize("step", [HOUR, -HOUR])
def test_retry_after_waits_its_time_across_a_step_of_the_clock(
    store: Store, stepped: SteppedClock, step: float
) -> None:
    """A job paused with ``retry_after`` 120 s resumes after 120 s of the boot clock: a step
    forward used to resume it at once, a step back an hour late."""
    job = store.create_job(["true"], "/", {}, None)
    set_row(store, job.id, worker_pid=os.getpid(), worker_start=self_identity().start)
    until = time.time() + 120
    assert store.finish_if_active(
        job.id, JobStatus.PAUSED, "rate limit", expect_worker=self_identity(), paused_until=until
    )
    stepped.step = step
    due = dispatch.next_due(store)
    assert due == pytest.approx(120, abs=1)
    dispatch.resume_due(store)
    assert store.get(job.id).status is JobStatus.PAUSED
    later = clock.since_boot() + 121
    stepped.monkeypatch.setattr(clock, "since_boot", lambda: later)
    dispatch.resume_due(store)
    assert store.get(job.id).status is JobStatus.QUEUED
