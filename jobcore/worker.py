"""The detached worker: one per running job, started by the launcher in a new session.

It claims the job, runs it (one command, or a batch of items), streams output through the
LogWriter into the job log, turns progress lines into throttled progress writes, and records
how the job ended. It is a child subreaper, so every descendant that is orphaned (a
daemonising grandchild, a setsid escapee) is re-parented to it and stays findable by ``stop``.

Run as ``python -m jobcore.worker STATE_DIR JOB_ID``; its own stdout/stderr are the job log,
so even a crash of the worker itself is visible to ``jobcore logs``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from jobcore import config
from jobcore.errors import JobcoreError
from jobcore.liveness import self_identity
from jobcore.models import Ending, Job, JobStatus, ProcessIdentity, iso, requested_ending
from jobcore.paths import ENV_HOME, ENV_JOB_ID, StateDir, open_private
from jobcore.queue import Turn
from jobcore.redact import Redactor
from jobcore.store import Store, record_event, update_in

if TYPE_CHECKING:
    from jobcore.batch import BatchRun
    from jobcore.command_job import CommandJob

ITEM_GRACE_S = 5.0
PR_SET_CHILD_SUBREAPER = 36
CALLBACK_TIMEOUT_S = 60.0


class _Terminated(Exception):
    """The worker itself was asked to stop (SIGTERM to the worker, e.g. at shutdown)."""


def _become_subreaper() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


class Worker:
    """Runs one job to its end and records the truth about it."""

    def __init__(self, state: StateDir, job_id: str) -> None:
        self.state = state
        self.store = Store(state)
        self.job_id = job_id
        self.me: ProcessIdentity = self_identity()
        try:
            self.config = config.load(state)
        except JobcoreError as exc:
            print(f"jobcore: {exc}; using the defaults")
            self.config = {name: key.default for name, key in config.KEYS.items()}

    def _on_sigterm(self, _signum: int, _frame: object) -> None:
        raise _Terminated

    def claim(self) -> Job | None:
        """Take ownership of a queued job; None if it is not ours to run (stopped, resumed)."""
        with self.store.write() as conn:
            row = conn.execute(
                "SELECT status, worker_pid, worker_start FROM jobs WHERE id = ?", (self.job_id,)
            ).fetchone()
            if row is None or row["status"] != JobStatus.QUEUED.value:
                status = "gone" if row is None else row["status"]
                print(f"jobcore: worker {self.me.pid} leaves: the job is {status}")
                return None
            if row["worker_pid"] is not None and (
                row["worker_pid"] != self.me.pid or row["worker_start"] != self.me.start
            ):
                print(
                    f"jobcore: worker {self.me.pid} leaves: worker "
                    f"{row['worker_pid']} ({row['worker_start']}) owns the job, not "
                    f"{self.me.pid} ({self.me.start})"
                )
                return None
            conn.execute(
                "UPDATE jobs SET worker_pid = ?, worker_start = ?, boot_id = ? WHERE id = ?",
                (self.me.pid, self.me.start, self.me.boot_id, self.job_id),
            )
        return self.store.get(self.job_id)

    def redactor(self, job: Job) -> Redactor:
        """What to mask in this job's output: known token shapes and secret env values."""
        listed = [*job.redact, *self.config["redact_env"]]
        return Redactor.for_env(self.command_env(job), listed)

    def command_env(self, job: Job) -> dict[str, str]:
        env = dict(os.environ)
        env.update(job.env)
        env[ENV_JOB_ID] = job.id
        env[ENV_HOME] = str(self.state.root)
        env.setdefault("PYTHONUNBUFFERED", "1")  # live logs from Python programs on a pipe
        return env

    def run(self) -> int:
        job = self.claim()
        if job is None:
            return 0
        signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            log_fd = open_private(
                self.state.log_path(job.id), os.O_WRONLY | os.O_APPEND | os.O_CREAT, self.state.root
            )
        except (OSError, JobcoreError) as exc:
            self.finish(Ending(JobStatus.FAILED, f"cannot open the log: {exc}"))
            return 0
        try:
            if job.started_at is not None:
                _log(log_fd, f"--- jobcore: resumed at {iso(time.time())} ---")
            while True:
                ending = self.take_turn_and_run(job, log_fd)
                self.finish(ending)
                if ending.status.is_final:
                    self.after_end(job, ending, log_fd)
                if ending.paused_until is None or not self.wait_to_resume(ending, log_fd):
                    return 0
                job = self.store.get(job.id)
        finally:
            os.close(log_fd)

    def take_turn_and_run(self, job: Job, log_fd: int) -> Ending:
        """Wait for the job's turn in the queue, then run it, holding its group slot.

        The runner is built first: its imports take tens of milliseconds, which would
        otherwise be paid after a slot frees (and while ``show`` says running with no process).
        """
        runner = self.runner(job, log_fd)
        turn = Turn(self.state, self.store, job, self.me)
        try:
            ending = turn.wait()
        except _Terminated:
            return Ending(JobStatus.FAILED, "worker was terminated (SIGTERM)")
        if ending is not None:
            return ending
        try:
            return self.run_once(job, runner)
        finally:
            turn.release()

    def run_once(self, job: Job, runner: BatchRun | CommandJob) -> Ending:
        """Run the job once; a SIGTERM to the worker ends it as failed (and resumable)."""
        with self.store.write() as conn:
            update_in(
                conn,
                job.id,
                {"status": JobStatus.RUNNING.value, "started_at": time.time(), "reason": None},
            )
            record_event(conn, job.id, "started", "worker")
        try:
            ending = runner.run()
        except _Terminated:
            from jobcore.proctree import LEFTOVER_GRACE_S, kill_job_tree

            kill_job_tree(job.id, self.me, grace=LEFTOVER_GRACE_S)
            ending = Ending(JobStatus.FAILED, "worker was terminated (SIGTERM)")
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        requested = requested_ending(self.store.get(job.id).stop_request)
        return requested or ending

    def runner(self, job: Job, log_fd: int) -> BatchRun | CommandJob:
        """What runs the job: a batch of items, or one command."""
        env, redact = self.command_env(job), self.redactor(job)
        if job.is_batch:
            from jobcore.batch import BatchRun

            return BatchRun(self.store, job, env, log_fd, ITEM_GRACE_S, redact)
        from jobcore.command_job import CommandJob

        return CommandJob(self.store, job, self.me, env, log_fd, redact)

    def finish(self, ending: Ending) -> None:
        self.store.finish_if_active(
            self.job_id,
            ending.status,
            ending.reason,
            expect_worker=self.me,
            exit_code=ending.exit_code,
            paused_until=ending.paused_until,
            actor=ending.actor,
        )

    def after_end(self, job: Job, ending: Ending, log_fd: int) -> None:
        """The job is over: run its callback, then apply the retention policy."""
        command = job.on_done or self.config["on_done"]
        if command:
            self.run_callback(job, ending, command, log_fd)
        self.notify_desktop(self.store.get(job.id))
        if self.config["keep"] is not None:
            from jobcore.housekeeping import clean

            clean(self.state, self.store, keep=self.config["keep"], actor="worker")

    def notify_desktop(self, job: Job) -> None:
        """A desktop notification for a long job, where ``notify-send`` exists."""
        threshold = self.config["notify_after"]
        elapsed = job.elapsed(time.time())
        if threshold is None or elapsed is None or elapsed < threshold:
            return
        import shutil

        program = shutil.which("notify-send")
        if program is None:
            return
        text = f"{job.label[:80]} {job.status.value}" + (f": {job.reason}" if job.reason else "")
        import subprocess

        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(
                [program, f"jobcore: job {job.id}", text],
                timeout=10,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

    def run_callback(self, job: Job, ending: Ending, command: str, log_fd: int) -> None:
        """pueue's callback: a shell command told about the job through its environment."""
        env = self.command_env(job)
        env.update(
            {
                "JOBCORE_JOB_NAME": job.name or "",
                "JOBCORE_JOB_STATUS": ending.status.value,
                "JOBCORE_JOB_EXIT_CODE": "" if ending.exit_code is None else str(ending.exit_code),
                "JOBCORE_JOB_REASON": ending.reason or "",
                "JOBCORE_JOB_LOG": str(self.state.log_path(job.id)),
            }
        )
        import subprocess

        try:
            done = subprocess.run(
                ["/bin/sh", "-c", command],
                env=env,
                cwd=job.cwd if os.path.isdir(job.cwd) else "/",
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=log_fd,
                timeout=CALLBACK_TIMEOUT_S,
            )
            outcome = f"exit code {done.returncode}"
        except (OSError, subprocess.TimeoutExpired) as exc:
            outcome = f"could not run: {exc}"
        with self.store.write() as conn:
            record_event(conn, job.id, "callback", "worker", f"{command!r}: {outcome}")

    def wait_to_resume(self, ending: Ending, log_fd: int) -> bool:
        """Sleep until a self-pause's ``paused_until``; resume unless someone else acted.

        A user's resume (new worker), stop (cancels the wait) or clean changes the row; then
        this worker just leaves.
        """
        until = ending.paused_until
        assert until is not None
        while time.time() < until:
            time.sleep(min(0.5, max(0.01, until - time.time())))
            if not self._still_paused_by_me(until):
                return False
        with self.store.write() as conn:
            if not self._still_paused_by_me(until):
                return False
            conn.execute(
                "UPDATE jobs SET status = 'queued', paused_until = NULL, reason = NULL,"
                " finished_at = NULL, stop_request = NULL WHERE id = ?",
                (self.job_id,),
            )
            record_event(conn, self.job_id, "resumed", "worker", "retry_after passed")
        signal.signal(signal.SIGTERM, self._on_sigterm)
        _log(log_fd, f"--- jobcore: resumed by itself at {iso(time.time())} ---")
        return True

    def _still_paused_by_me(self, until: float) -> bool:
        try:
            job = self.store.get(self.job_id)
        except JobcoreError:
            return False  # cleaned away while waiting
        return (
            job.status is JobStatus.PAUSED
            and job.paused_until == until
            and job.worker is not None
            and job.worker.pid == self.me.pid
            and job.worker.start == self.me.start
        )


def _log(fd: int, line: str) -> None:
    os.write(fd, (line + "\n").encode())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m jobcore.worker STATE_DIR JOB_ID", file=sys.stderr)
        return 2
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    os.chdir(args[0])  # never keep the launcher's folder busy (an unmount, a deleted dir)
    _become_subreaper()
    worker = Worker(StateDir(Path(args[0]).absolute()), args[1])
    try:
        return worker.run()
    finally:
        worker.store.close()


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Threads of a Python batch that were given up on (stop) must not keep the worker alive.
    os._exit(code)
