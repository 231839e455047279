"""A step of the wall clock (NTP, an admin, a VM resumed) moves no duration.

The real clock cannot be stepped in a test, so the step is made where Python reads it:
``time.time`` (what a step of the system clock changes) is moved by an hour, while the boot
clock (``jobcore.clock.since_boot``, CLOCK_BOOTTIME) carries on. Everything else is real: the
state database, the queue's rows, the ledger, the worker's wait.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from jobcore import clock
from jobcore.items import Outcome
from jobcore.ledger import Ledger
from jobcore.liveness import LAUNCHER_DIED, STARTING_GRACE_S, reconcile, self_identity
from jobcore.models import Ending, JobStatus, QueueSpec
from jobcore.paths import StateDir
from jobcore.queue import Turn, add_group
from jobcore.store import Store
from jobcore.worker import Worker

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
def test_a_starting_job_is_not_failed_by_a_step_of_the_clock(
    store: Store, stepped: SteppedClock, step: float
) -> None:
    """Queued a moment ago, no worker yet (its launcher is starting it): a step forward used to
    fail it as "launcher died" at once; a step back must not keep a dead one waiting either."""
    job = store.create_job(["true"], "/", {}, None)
    stepped.step = step
    reconcile(store)
    assert store.get(job.id).status is JobStatus.QUEUED
    # Past the grace on the boot clock, whatever the wall clock says: the launcher is gone.
    later = clock.since_boot() + STARTING_GRACE_S + 1
    stepped.monkeypatch.setattr(clock, "since_boot", lambda: later)
    reconcile(store)
    after = store.get(job.id)
    assert (after.status, after.reason) == (JobStatus.FAILED, LAUNCHER_DIED)


def test_the_queue_line_holds_across_a_step_forward(
    state: StateDir, store: Store, stepped: SteppedClock
) -> None:
    """A job queued just before another, whose worker has not reported yet, keeps its place
    in line (JOIN_LINE_S); a step forward of the clock used to drop it from the line."""
    add_group(store, "one", 1)
    store.create_job(["true"], "/", {}, None, queue=QueueSpec(group="one"))
    second = store.create_job(["true"], "/", {}, None, queue=QueueSpec(group="one"))
    store.update(second.id, waiting_on="slot")  # its worker has reported, as Turn does
    turn = Turn(state, store, second, self_identity())
    assert not turn._first_in_line()
    stepped.step = HOUR
    assert not turn._first_in_line()


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
    state: StateDir, store: Store, stepped: SteppedClock, step: float
) -> None:
    """A job paused with ``retry_after`` 120 s resumes after 120 s of the boot clock: a step
    forward used to resume it at once, a step back an hour late."""
    job = store.create_job(["true"], "/", {}, None)
    worker = Worker(state, job.id)
    until = time.time() + 120
    store.update(
        job.id,
        status=JobStatus.PAUSED.value,
        paused_until=until,
        worker_pid=worker.me.pid,
        worker_start=worker.me.start,
        boot_id=worker.me.boot_id,
    )

    def step_once() -> None:
        stepped.step = step

    stepped.fake_boot(on_sleep=step_once)
    handler = signal.getsignal(signal.SIGTERM)
    try:
        resumed = worker.wait_to_resume(Ending(JobStatus.PAUSED, "rate limit", paused_until=until))
    finally:
        signal.signal(signal.SIGTERM, handler)
        worker.store.close()
    assert resumed and store.get(job.id).status is JobStatus.QUEUED
    assert stepped.slept == pytest.approx(120, abs=0.6)
