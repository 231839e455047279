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

from jobcore.errors import Pause
from jobcore.items import ItemBook, ItemRecord, ItemStatus
from jobcore.models import BatchSpec, Ending, Job, JobStatus
from jobcore.runners import CallRunner, CommandRunner, Outcome
from jobcore.store import Store

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
        self.runner: CommandRunner | CallRunner
        if self.spec.call:
            # The function runs in this process (or its pool): give it the job's world.
            os.environ.update(env)
            os.chdir(job.cwd)
            self.runner = CallRunner(
                self.spec.call, job.cwd, self.spec.parallel, self.spec.processes
            )
        else:
            self.runner = CommandRunner(job.command, job.cwd, env, log_fd, redact)

    def _stop_request(self) -> str | None:
        row = self.store.conn.execute(
            "SELECT stop_request FROM jobs WHERE id = ?", (self.job.id,)
        ).fetchone()
        return row["stop_request"] if row else None

    def run(self) -> Ending:
        self.book.reset_in_flight()
        pause: Pause | None = None
        request: str | None = None
        last_check = 0.0
        try:
            while True:
                now = time.monotonic()
                if now - last_check >= TICK_S:
                    request, last_check = self._stop_request(), now
                    if request:
                        self._requeue_running()
                        break
                while pause is None and self.runner.running < self.spec.parallel:
                    record = self.book.claim_next()
                    if record is None:
                        break
                    failed_to_start = self.runner.start(record)
                    if failed_to_start is not None:
                        self._record(record, failed_to_start)
                idle = self.runner.running == 0
                if idle and (pause is not None or self.book.next_ready_at() is None):
                    break
                for record, outcome in self.runner.wait(TICK_S):
                    if not outcome.ok and self._stop_request():
                        # Killed by `jobcore stop`, which writes its request before signalling:
                        # an interrupted attempt, not a failure.
                        self.book.requeue(record)
                    elif outcome.pause is not None:
                        pause = pause or outcome.pause
                        self.book.requeue(record)
                        self._requeue_running()
                    else:
                        self._record(record, outcome)
        finally:
            self.interrupt()
        return self._end(request, pause)

    def interrupt(self) -> None:
        """Stop whatever still runs and put it back to pending (stop, SIGTERM, crash path)."""
        self._requeue_running()
        self.runner.close()

    def _requeue_running(self) -> None:
        for record in self.runner.interrupt_all(self.grace):
            self.book.requeue(record)

    def _record(self, record: ItemRecord, outcome: Outcome) -> None:
        self.book.finish(
            record,
            ok=outcome.ok,
            exit_code=outcome.exit_code,
            error=outcome.error,
            result=outcome.result,
            retries=self.spec.retries,
            backoff=self.spec.backoff,
        )

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
