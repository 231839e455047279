"""Run a batch's items on a Dask cluster, from the job's worker (the driver).

The driver keeps everything jobcore is for: the ledger in SQLite, attempts, retries and their
backoff (Dask's own retries stay off), the job log, stop and resume. It hands items to the
cluster as tasks (``jobcore.worker.dask_tasks``) and records each end as it arrives, through the
same runner interface as the local runners: ``start``, ``wait``, ``interrupt_all``, ``close``.

- A task sends its end (exit code or a call's result, and the output not yet shipped) as a
  Dask event on the run's topic, after the numbered chunks of a long item's output: the
  scheduler pushes them, in order, and the driver never fetches a result (a round trip per
  item). All output goes through the job's LogWriter under the item's prefix, as a local
  item's. A task that ends without sending one (an error outside it, a cancel) is found by
  its future's status.
- A Dask worker that dies mid-item: the scheduler runs its task again elsewhere (the attempt
  is not counted, as an interrupted local one is not).
- The scheduler lost mid-run: the items in flight go back to pending and the job pauses
  itself, resuming on its own after ``LOST_RETRY_S`` (it reconnects then).
- Stop: every worker is told to SIGTERM the run's items' process groups (and to start none of
  its items any more), their output is still taken for the grace, then SIGKILL; what has not
  ended is cancelled and goes back to pending.
- A new run (a resume, after a ``kill -9`` of the driver) first kills whatever an earlier run
  of the job left running on the workers: those items are pending again and run anew.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import time
from typing import TYPE_CHECKING, Any

from jobcore.base.errors import JobcoreError, Pause
from jobcore.state.cluster import write_where
from jobcore.state.items import ItemRecord, Outcome
from jobcore.state.reporter import Reporter
from jobcore.worker.logwriter import LogWriter
from jobcore.worker.runners import _outcome, fill_argv, item_line, item_writer

if TYPE_CHECKING:
    from distributed import Client, Future

    from jobcore.base.redact import Redactor
    from jobcore.state.live_line import LiveLine
    from jobcore.state.paths import StateDir
    from jobcore.state.store import Store
    from jobcore.worker.batch import BatchRun

CONNECT_S = 10.0
"""How long the driver tries to reach the scheduler when it starts."""
KILL_WAIT_S = 2.0
"""How long killed items get to report their end before they are cancelled."""
STEP_S = 0.1
WHERE_EVERY_S = 1.0
"""How often the note of items per worker (for ``show``) is rewritten while it changes."""
LOST_RETRY_S = 30.0
"""A job that lost its scheduler pauses itself and tries again after this long."""


class _Remote:
    """An item in flight on the cluster."""

    __slots__ = ("chunks", "future", "last_error", "record", "reporter", "writer")

    def __init__(self, record: ItemRecord, future: Future[Any], writer: LogWriter) -> None:
        self.record = record
        self.future = future
        self.writer = writer
        self.chunks = 0
        """Output chunks written so far (they are numbered from 0)."""
        self.reporter: Reporter | None = None
        self.last_error: str | None = None


class DaskRunner:
    """Items as Dask tasks: shell commands in their own process group, or ``--call``s."""

    def __init__(
        self,
        address: str,
        state: StateDir,
        store: Store,
        job_id: str,
        cwd: str,
        template: list[str] | None,
        call: str | None,
        env: dict[str, str],
        log_fd: int,
        redact: Redactor | None = None,
        live: LiveLine | None = None,
    ) -> None:
        import logging

        from distributed import Client

        from jobcore.worker import dask_tasks

        # The driver's stderr is the job log: Dask's reconnect tracebacks would bury it.
        # What matters (a lost scheduler, a worker that cannot import) is said in one line.
        logging.getLogger("distributed").setLevel(logging.CRITICAL)

        self.address = address
        self.state = state
        self.store = store
        self.job_id = job_id
        self.job = state.job_marker(job_id)
        """The job's name on the workers: its marker, unique across state folders."""
        self.run = f"{self.job}@{os.getpid()}-{time.time_ns()}"
        """This run of the job: a stop or a leftover sweep names exactly its items."""
        self.topic = f"jobcore-output-{self.run}"
        self.cwd = cwd
        self.template = template
        self.call = call
        self.env = env
        self.log_fd = log_fd
        self.redact = redact
        self.live = live
        self.tasks = dask_tasks
        self.items: dict[int, _Remote] = {}
        """In flight, by item index."""
        self.events: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        """Output chunks and ends of items, from Dask's event loop."""
        self.ended: list[tuple[ItemRecord, Outcome]] = []
        """Attempts that ended since the last ``wait`` returned."""
        self.ran: dict[str, int] = {}
        """Items each worker ran in this run (ended attempts)."""
        self._where_at = 0.0
        self._where_changed = True
        self.lost: str | None = None
        """Why the scheduler is gone, once it is."""
        try:
            self.client: Client = Client(address, timeout=CONNECT_S, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise JobcoreError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        try:
            self._check_workers()
            self.client.subscribe_topic(self.topic, self._on_event)
            # An earlier run's items (its driver was killed) are pending again: they go.
            self.client.run(self.tasks.signal_items, self.job, signal.SIGKILL, None, self.run)
        except BaseException:
            self.client.close()
            raise
        self._note_where(force=True)
        self._say_where()

    def _say_where(self) -> None:
        """A line in the job log: where the items go, and whether anyone is there to run them."""
        workers = self.client.nthreads()
        threads = sum(workers.values())
        if workers:
            text = f"{len(workers)} worker(s), {threads} thread(s)"
        else:
            text = "no workers yet: the items wait for one (dask worker ADDRESS)"
        with contextlib.suppress(OSError):
            os.write(self.log_fd, f"jobcore: running items on {self.address}: {text}\n".encode())

    def _check_workers(self) -> None:
        """jobcore (and a ``--call`` target) importable on every worker, or a clear error."""
        try:
            self.client.run(self.tasks.ping)
        except ModuleNotFoundError as exc:
            raise JobcoreError(
                f"a Dask worker of {self.address} cannot import {exc.name!r}: "
                "install jobcore there too (pip install 'jobcore[dask]')"
            ) from None
        if self.call is None:
            return
        for worker, error in self.client.run(self.tasks.check_call, self.call, self.cwd).items():
            if error is not None:
                raise JobcoreError(f"{error}, on Dask worker {worker}: it must be importable there")

    @property
    def running(self) -> int:
        return len(self.items)

    def start(self, record: ItemRecord) -> Outcome | None:
        key = f"jobcore-{self.job_id}-{record.idx}-{record.attempts}-{self.run}"
        if self.call is not None:
            future = self.client.submit(
                self.tasks.run_call,
                self.run,
                self.call,
                self.cwd,
                record.item,
                record.idx,
                record.attempts,
                self.topic,
                key=key,
                pure=False,
                retries=0,
            )
        else:
            assert self.template is not None
            future = self.client.submit(
                self.tasks.run_shell,
                self.job,
                self.run,
                record.idx,
                record.attempts,
                fill_argv(self.template, record.item),
                self.env,
                self.cwd,
                self.topic,
                key=key,
                pure=False,
                retries=0,
            )
        entry = _Remote(record, future, None)  # type: ignore[arg-type]
        entry.writer = item_writer(
            record, self.log_fd, self.redact, self.live, lambda line: self._on_line(entry, line)
        )
        self.items[record.idx] = entry
        self._where_changed = True
        return None

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        """A chunk of output or an end (on Dask's event loop: only queued here)."""
        msg = event[1]
        if isinstance(msg, dict) and msg.get("run") == self.run:
            self.events.put(msg)

    def _on_line(self, entry: _Remote, line: bytes) -> bool:
        """An item's line, as a local item's (``runners.item_line``)."""
        return item_line(entry, line, self.store, self.job_id, self.redact)

    def wait(self, timeout: float) -> list[tuple[ItemRecord, Outcome]]:
        """Take output and ends for up to ``timeout`` seconds; the attempts that ended."""
        if not self.items:
            time.sleep(timeout)
            return []
        try:
            self._handle(self.events.get(timeout=timeout))
            while True:
                self._handle(self.events.get_nowait())
        except queue.Empty:
            pass
        for entry in list(self.items.values()):
            if entry.future.status in ("error", "cancelled"):
                self._end(entry, self._failed_task(entry.future))
            elif entry.reporter is not None:
                entry.reporter.flush()
        if not self.ended and self.live is not None:
            self.live.flush()
        self._note_where()
        ended, self.ended = self.ended, []
        return ended

    def _handle(self, msg: dict[str, Any]) -> None:
        entry = self.items.get(msg.get("idx", -1))
        if entry is None:
            return
        if "end" in msg:
            if msg.get("attempt") == entry.record.attempts:
                self._end(entry, msg["end"])
        elif msg.get("seq") == entry.chunks:
            entry.writer.feed(msg["data"])
            entry.chunks += 1

    def _failed_task(self, future: Future[Any]) -> dict[str, Any]:
        """Why a task ended without sending its end."""
        if future.status == "cancelled":
            self.lost = self.lost or f"lost the Dask scheduler at {self.address}"
            return {"lost": self.lost}
        exc = future.exception(timeout=CONNECT_S)
        if type(exc).__name__ == "KilledWorker":
            return {"error": f"its Dask worker died each time it ran it: {exc}"}
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}

    def _end(self, entry: _Remote, reply: dict[str, Any]) -> None:
        self.ended.append((entry.record, self._close(entry.record.idx, reply)))
        self._where_changed = True

    def _close(self, idx: int, reply: dict[str, Any]) -> Outcome:
        """An ended item: its last output written, its outcome made (its future let go)."""
        entry = self.items.pop(idx)
        tail = reply.get("tail")
        if tail:
            entry.writer.feed(tail)
        entry.writer.close()
        if entry.reporter is not None:
            entry.reporter.close()
        worker = reply.get("worker")
        if isinstance(worker, str) and "interrupted" not in reply:
            self.ran[worker] = self.ran.get(worker, 0) + 1
        record = entry.record
        if "interrupted" in reply:
            return Outcome(ok=False, error="interrupted")
        if "lost" in reply:
            # Not the item's failure: it goes back to pending with the job, paused a while.
            return Outcome(ok=False, error=reply["lost"], pause=Pause(reply["lost"], LOST_RETRY_S))
        if "pause" in reply:
            reason, after = reply["pause"]
            return Outcome(ok=False, error=reason, pause=Pause(reason, after))
        if "error" in reply:
            return Outcome(ok=False, error=str(reply["error"])[:500])
        if "result" in reply:
            return Outcome(ok=True, result=reply["result"])
        last = entry.writer.last_line.decode("utf-8", "replace").strip()
        return _outcome(record, int(reply["code"]), entry.last_error or last)

    def interrupt_all(self, grace: float) -> list[tuple[ItemRecord, Outcome]]:
        """Stop every item in flight on every worker and say how each ended.

        Cancelling a future does not stop what its task started, so the workers are told
        explicitly: SIGTERM to the run's items (none of its items starts after that), their
        output still taken for ``grace``, then SIGKILL; what has not reported by then is
        cancelled, back to pending like the rest.
        """
        if not self.items:
            return []
        ended = self.wait(0)
        self._signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while self.items and (left := deadline - time.monotonic()) > 0:
            ended += self.wait(min(left, STEP_S))
        if self.items:
            self._signal(signal.SIGKILL)
            deadline = time.monotonic() + KILL_WAIT_S
            while self.items and time.monotonic() < deadline:
                ended += self.wait(STEP_S)
        for idx, entry in list(self.items.items()):
            entry.future.cancel()
            ended.append((entry.record, self._close(idx, {"interrupted": True})))
        return ended

    def _signal(self, sig: int) -> None:
        """Signal this run's items on every worker (a worker that is gone has none)."""
        if self.lost is None:
            self.client.run(self.tasks.signal_items, self.job, sig, self.run, on_error="ignore")

    def _note_where(self, force: bool = False) -> None:
        """Rewrite the note of items per worker for ``show``, at most every WHERE_EVERY_S."""
        now = time.monotonic()
        if not force and (not self._where_changed or now - self._where_at < WHERE_EVERY_S):
            return
        self._where_at, self._where_changed = now, False
        running: dict[str, int] = {}
        if self.items and self.lost is None:
            try:
                processing = self.client.processing()
            except (OSError, TimeoutError):
                processing = {}
            for worker, keys in processing.items():
                count = sum(1 for key in keys if key in self.items)
                if count:
                    running[worker] = count
        workers = {
            w: {"ran": self.ran.get(w, 0), "running": running.get(w, 0)}
            for w in sorted({*self.ran, *running})
        }
        with contextlib.suppress(OSError, JobcoreError):  # only a view: the batch goes on
            write_where(self.state, self.job_id, {"address": self.address, "workers": workers})

    def close(self) -> None:
        """Leave the cluster: the run's stopping mark goes from the workers, the note stays."""
        self._note_where(force=True)
        try:
            # Housekeeping on the cluster: no failure of it may cost the job its ending.
            with contextlib.suppress(Exception):
                if self.lost is None:
                    self.client.run(self.tasks.forget_run, self.run, on_error="ignore")
                    self.client.run_on_scheduler(_forget_topic, self.topic)
        finally:
            self.client.close()


def _forget_topic(topic: str, dask_scheduler: Any = None) -> None:
    """Drop a run's events kept by the scheduler (its last 1,000 per topic, output included).

    Sent by value (jobcore need not be installed on the scheduler); the broker is Dask's
    internal, so a version without it keeps the events (bounded) rather than failing."""
    broker = getattr(dask_scheduler, "_broker", None)
    if broker is not None:
        broker.truncate(topic)


_forget_topic.__module__ = "__main__"  # cloudpickle sends it by value, not by reference


def start_on_cluster(batch: BatchRun) -> DaskRunner:
    """The Dask runner of a batch (``BatchRun._runner``): connected, its workers checked.

    Items get the job's ``--env`` and its markers on top of their worker's own environment,
    never the launching machine's whole environment (its PATH, its venv mean nothing there).
    """
    from jobcore.state.live_line import LiveLine
    from jobcore.state.paths import ENV_JOB, ENV_JOB_ID

    job = batch.job
    env = {**job.env, ENV_JOB: batch.env[ENV_JOB], ENV_JOB_ID: job.id, "PYTHONUNBUFFERED": "1"}
    assert batch.spec.cluster is not None
    return DaskRunner(
        batch.spec.cluster,
        batch.store.state,
        batch.store,
        job.id,
        job.cwd,
        None if batch.spec.call else list(job.command),
        batch.spec.call,
        env,
        batch.log_fd,
        batch.redact,
        None if batch.spec.call else LiveLine(batch.store.state.live_path(job.id)),
    )
