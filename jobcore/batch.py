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
from typing import TYPE_CHECKING

from jobcore.errors import Pause
from jobcore.items import ItemBook, ItemStatus
from jobcore.ledger import Ledger
from jobcore.live_line import LiveLine
from jobcore.models import BatchSpec, Ending, Job, JobStatus
from jobcore.runners import CommandRunner
from jobcore.store import Store

if TYPE_CHECKING:
    from jobcore.call_runner import CallRunner
    from jobcore.cgroup import JobCgroup

TICK_S = 0.2
"""How often the loop looks at the stop request and at items due after a backoff."""


class BatchRun:
    """One worker's pass over a batch's pending items."""

    def __init__(
        self,
        store: Store,
        job: Job,
        env: dict[str, str],
        log_fd: int,
        grace: float,
        redact: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.store = store
        self.job = job
        self.spec = BatchSpec.of(job)
        self.book = ItemBook(store, job.id)
        self.grace = grace
        self.env = env
        self.log_fd = log_fd
        self.redact = redact
        self.cgroup: JobCgroup | None = None
        """Set by the worker where the run has its own cgroup: items are born in it."""

    def _runner(self) -> CommandRunner | CallRunner:
        """The runner for this batch, started in the job's folder with the job's world."""
        os.chdir(self.job.cwd)
        if self.spec.call:
            # The function runs in this process (or its pool): give it the job's environment.
            os.environ.update(self.env)
            from jobcore.call_runner import CallRunner

            return CallRunner(self.spec.call, self.job.cwd, self.spec.parallel, self.spec.processes)
        live = LiveLine(self.store.state.live_path(self.job.id))
        return CommandRunner(
            self.job.command, self.env, self.log_fd, self.redact, live, cgroup=self.cgroup
        )

    def _stop_request(self) -> str | None:
        row = self.store.conn.execute(
            "SELECT stop_request FROM jobs WHERE id = ?", (self.job.id,)
        ).fetchone()
        return row["stop_request"] if row else None

    def run(self) -> Ending:
        if not os.path.isdir(self.job.cwd):
            return Ending(JobStatus.FAILED, f"cwd does not exist: {self.job.cwd}")
        self.book.reset_in_flight()
        self.runner = self._runner()
        self.ledger = Ledger(self.store, self.job.id, self.spec.retries, self.spec.backoff)
        pause: Pause | None = None
        request: str | None = None
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
                if self.runner.running == 0 and (
                    pause is not None or self.ledger.next_ready_at() is None
                ):
                    break
                now = time.monotonic()
                if now - last_check >= TICK_S:
                    request, last_check = self._stop_request(), now
                    if request:
                        break
                ended = []
                for record, outcome in self.runner.wait(self.ledger.flush_in(TICK_S)):
                    if not outcome.ok and (request := request or self._stop_request()):
                        # Killed by `jobcore stop`, which writes its request before signalling:
                        # an interrupted attempt, not a failure.
                        self.ledger.requeue([record])
                    elif outcome.pause is not None:
                        pause = pause or outcome.pause
                        self.ledger.requeue([record])
                        self._requeue_running()
                    else:
                        ended.append((record, outcome))
                self.ledger.ended(ended)
                if request:
                    break  # no new item starts once a stop is seen
                self.ledger.flush_if_due()
        finally:
            self.interrupt()
        return self._end(request, pause)

    def interrupt(self) -> None:
        """Stop whatever still runs and put it back to pending (stop, SIGTERM, crash path)."""
        self._requeue_running()
        self.runner.close()

    def _requeue_running(self) -> None:
        self.ledger.requeue(self.runner.interrupt_all(self.grace))

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
