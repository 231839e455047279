"""The batch scheduler inside a worker: keep N items running until none is left.

It claims the next ready item, hands it to a runner, and records each ended attempt as
done, retried later (exponential backoff with jitter) or failed for good. A stop request
(written by ``jobcore stop``) or an item asking to pause ends the loop with the in-flight
items back to pending, so a resume runs exactly what was not finished.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from signal import SIGHUP, SIGINT, SIGKILL, SIGTERM
from typing import TYPE_CHECKING

from jobcore.base.errors import JobcoreError, Pause
from jobcore.state.items import ItemBook, ItemRecord, ItemStatus, Outcome
from jobcore.state.live_line import LiveLine
from jobcore.state.models import TERMINATED, BatchSpec, Ending, Job, JobStatus
from jobcore.state.store import Store
from jobcore.worker.ledger import Ledger
from jobcore.worker.runners import CommandRunner

if TYPE_CHECKING:
    from jobcore.base.redact import Redactor
    from jobcore.procs.cgroup import JobCgroup
    from jobcore.worker.call_runner import CallRunner
    from jobcore.worker.dask_runner import DaskRunner

TICK_S = 0.2
"""How often the loop looks at the stop request and at items due after a backoff."""
HOLD_S = 1.0
"""How long an item killed by a signal the worker did not send waits before it counts as
failed: long enough for the worker's own SIGTERM of a shutdown to arrive."""
SHUTDOWN_SIGNALS = frozenset(-s for s in (SIGTERM, SIGKILL, SIGINT, SIGHUP))
"""Exit codes (killed by these) that a shutdown or a closing session deals to items."""


class BatchRun:
    """One worker's pass over a batch's pending items.

    A shutdown (reboot, ``systemctl stop``) sends SIGTERM to the whole session at once, and
    an item may die of it, and be collected, a few milliseconds before the worker's own
    SIGTERM arrives. So an item killed by SIGTERM, SIGKILL, SIGINT or SIGHUP (signals a
    shutdown or a closing session deals; the worker's own interruptions are settled apart)
    is held for ``HOLD_S``: if the worker is terminated, or a stop is requested, meanwhile,
    the item was interrupted and goes back to pending with its attempt not counted;
    otherwise it failed (e.g. the OOM killer) and is recorded so, a second late.
    """

    def __init__(
        self,
        store: Store,
        job: Job,
        env: dict[str, str],
        log_fd: int,
        grace: float,
        terminated: Callable[[], bool],
        redact: Redactor | None = None,
    ) -> None:
        self.store = store
        self.job = job
        self.spec = BatchSpec.of(job)
        self.book = ItemBook(store, job.id)
        self.grace = grace
        """Seconds running items get to end after SIGTERM, unless a stop gives its own."""
        self.terminated = terminated
        """The worker's SIGTERM flag, looked at on every pass."""
        self.env = env
        self.log_fd = log_fd
        self.redact = redact
        self.slot_fd: int | None = None
        """The job's group slot (``jobcore.ops.dispatch``), passed on to every item."""
        self.cgroup: JobCgroup | None = None
        """Set by the worker where the run has its own cgroup: items are born in it."""

    def _runner(self) -> CommandRunner | CallRunner | DaskRunner:
        """The runner for this batch, started in the job's folder with the job's world."""
        os.chdir(self.job.cwd)
        if self.spec.cluster:
            from jobcore.worker.dask_runner import start_on_cluster

            return start_on_cluster(self)
        if self.spec.call:
            # The function runs in this process (or its pool): give it the job's environment,
            # and only that (not what the worker inherited from whoever resumed the job).
            os.environ.clear()
            os.environ.update(self.env)
            from jobcore.worker.call_runner import CallRunner

            return CallRunner(
                self.spec.call, self.job.cwd, self.spec.parallel, self.spec.processes, self.redact
            )
        live = LiveLine(self.store.state.live_path(self.job.id))
        return CommandRunner(
            self.job.command,
            self.env,
            self.log_fd,
            self.redact,
            live,
            self.slot_fd,
            self.cgroup,
            self.store,
            self.job.id,
        )

    def _stop_request(self) -> str | None:
        row = self.store.conn.execute(
            "SELECT stop_request, stop_grace FROM jobs WHERE id = ?", (self.job.id,)
        ).fetchone()
        if row is None or row["stop_request"] is None:
            return None
        if row["stop_grace"] is not None:
            self.grace = row["stop_grace"]  # the stop's own --grace
        return row["stop_request"]

    def run(self) -> Ending:
        if not os.path.isdir(self.job.cwd):
            return Ending(JobStatus.FAILED, f"cwd does not exist: {self.job.cwd}")
        self.store.patience.call(self.book.reset_in_flight)
        try:
            self.runner = self._runner()
        except JobcoreError as exc:  # a cluster that cannot be reached or used
            return Ending(JobStatus.FAILED, str(exc))
        self.ledger = Ledger(
            self.store,
            self.job.id,
            self.spec.retries,
            self.spec.backoff,
            shown=None if self.redact is None else self.redact.text,
        )
        pause: Pause | None = None
        request: str | None = None
        terminated = False
        held: list[tuple[ItemRecord, Outcome, float]] = []
        last_check = 0.0
        try:
            while True:
                while pause is None and self.runner.running < self.spec.parallel:
                    record = self.ledger.take()
                    if record is None:
                        break
                    failed_to_start = self.runner.start(record)
                    if failed_to_start is not None:
                        self.ledger.ended([(record, failed_to_start)])
                if (
                    self.runner.running == 0
                    and not held
                    and (pause is not None or self.ledger.next_ready_at() is None)
                ):
                    break
                now = time.monotonic()
                if now - last_check >= TICK_S:
                    request, last_check = self._stop_request(), now
                if request or (terminated := self.terminated()):
                    break
                ended = []
                for record, outcome in self.runner.wait(self.ledger.flush_in(TICK_S)):
                    if outcome.ok:
                        ended.append((record, outcome))
                    elif request := request or self._stop_request():
                        # Killed by `jobcore stop` (which writes its request first), or by
                        # this worker for it: an interrupted attempt, not a failure.
                        self.ledger.requeue([record])
                    elif outcome.pause is not None:
                        pause = pause or outcome.pause
                        self.ledger.requeue([record])
                        self._interrupt_running(self.grace)
                    elif outcome.exit_code in SHUTDOWN_SIGNALS:
                        held.append((record, outcome, time.monotonic()))
                    else:
                        ended.append((record, outcome))
                ended += self._release_held(held)
                self.ledger.ended(ended)
                if request:
                    break  # no new item starts once a stop is seen
                self.ledger.flush_if_due()
        finally:
            # Left early (stop, SIGTERM, crash): a held item was interrupted, not failed.
            self.ledger.requeue([record for record, _, _ in held])
            self._interrupt_running(self.grace)
            self.runner.close()
        if terminated:
            return TERMINATED
        return self._end(request, pause)

    def _release_held(
        self, held: list[tuple[ItemRecord, Outcome, float]]
    ) -> list[tuple[ItemRecord, Outcome]]:
        """Held items whose ``HOLD_S`` passed with no SIGTERM of the worker: they failed."""
        if not held or self.terminated():
            return []
        due = time.monotonic() - HOLD_S
        released = [(record, outcome) for record, outcome, at in held if at <= due]
        held[:] = [entry for entry in held if entry[2] > due]
        return released

    def _interrupt_running(self, grace: float) -> None:
        """Stop whatever still runs: what ended well is done, the rest back to pending."""
        requeue = []
        ended = []
        for record, outcome in self.runner.interrupt_all(grace):
            if outcome.ok:
                ended.append((record, outcome))
            else:
                requeue.append(record)
        self.ledger.ended(ended)
        self.ledger.requeue(requeue)

    def _end(self, request: str | None, pause: Pause | None) -> Ending:
        if request == "kill":
            return Ending(JobStatus.FAILED, "killed")
        if request == "pause":
            return Ending(JobStatus.PAUSED, "stopped by user")
        if pause is not None:
            until = time.time() + pause.retry_after if pause.retry_after else None
            return Ending(JobStatus.PAUSED, pause.reason, paused_until=until)
        n = self.book.counts()
        total = sum(n.values())
        if n[ItemStatus.FAILED]:
            return Ending(JobStatus.FAILED, f"{n[ItemStatus.FAILED]} of {total} items failed")
        return Ending(JobStatus.COMPLETED, None)
