"""The detached worker: one per running job, started by the launcher in a new session.

It claims the job, runs it (one command, or a batch of items), streams output through the
LogWriter into the job log, turns progress lines into throttled progress writes, and records
how the job ended. It is a child subreaper, so every descendant that is orphaned (a
daemonising grandchild, a setsid escapee) is re-parented to it and stays findable by ``stop``.

Run as ``python -m jobcore.worker STATE_DIR JOB_ID``, or forked from the launcher (``serve``);
its own stdout/stderr are the job log, so even a crash of the worker itself is visible to
``jobcore logs``.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from jobcore.base import clock
from jobcore.base.errors import JobcoreError
from jobcore.base.redact import Redactor
from jobcore.procs import forking
from jobcore.procs.cgroup import LEFTOVER_GRACE_S, JobCgroup, create_for_run, settle_worker
from jobcore.procs.identity import self_identity
from jobcore.state import config, launch_env, transitions
from jobcore.state.database import BUSY_TIMEOUT_MS
from jobcore.state.models import Ending, Job, JobStatus, ProcessIdentity, iso, requested_ending
from jobcore.state.paths import ENV_HOME, ENV_JOB, ENV_JOB_ID, StateDir, open_private
from jobcore.state.patience import Patience
from jobcore.state.queue import ENV_GROUP, ENV_SLOT, slot_index
from jobcore.state.store import Store
from jobcore.state.transitions import record_event


class FollowUps(Protocol):
    """What happens after a job ends that belongs to the operations above the worker: it is
    handed in by the worker's program (``jobcore.ops.worker_process``), so this layer never
    imports the layer that launches it."""

    def start_waiting(self, state: StateDir, store: Store) -> dict[str, JobcoreError]:
        """Start the jobs that waited for this one's slot; the errors by job id."""

    def clean(self, state: StateDir, store: Store, keep: int) -> None:
        """Apply the retention policy: keep the newest ``keep`` ended jobs."""


if TYPE_CHECKING:
    from jobcore.worker.batch import BatchRun
    from jobcore.worker.command_job import CommandJob

PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _adopted(row: sqlite3.Row, token: str, me: ProcessIdentity) -> bool:
    """Whether ``row`` (read without the write lock) is as ``transitions.adopt`` would leave it;
    a later stop is seen by ``mark_running``, which starts only a job still queued under ``me``."""
    worker = (row["worker_pid"], row["worker_start"], row["boot_id"])
    return (
        worker == (me.pid, me.start, me.boot_id)
        and row["status"] == JobStatus.QUEUED.value
        and row["claim"] == token
    )


class Worker:
    """Runs one job to its end and records the truth about it."""

    def __init__(
        self,
        state: StateDir,
        job_id: str,
        claim: str = "",
        slot_fd: int | None = None,
        follow_ups: FollowUps | None = None,
        store: Store | None = None,
    ) -> None:
        self.state = state
        self.follow_ups = follow_ups
        """What the operations layer does once this job ends (start the next, clean up)."""
        self.claim_token = claim
        """The token of the claim this worker was started for (``jobcore.ops.dispatch``)."""
        self.slot_fd = slot_fd
        self.slot = None if slot_fd is None else slot_index(slot_fd)
        """The group slot's number, JOBCORE_SLOT of the command (None: no limited group)."""
        """The job's group slot, handed down by its starter; closing it frees the slot once
        the command's processes (which inherit it) are gone too."""
        self.handed_over = False
        """Whether the slot was let go and the queue told (once per worker)."""
        self.store = Store(state) if store is None else store
        """Its own connection: opened here, or ahead by a spare worker (``jobcore.ops.spare``)."""
        self.store.patience = Patience(
            forever=True, note=self.note, note_after_s=BUSY_TIMEOUT_MS / 1000
        )
        """A worker waits out a locked or full database: its command runs on meanwhile."""
        self.job_id = job_id
        self.me: ProcessIdentity = self_identity()
        self.notes_lost = 0
        """Lines of the worker's own that a full disk kept out of the job log."""
        self.launch_env: dict[str, str] | None = None
        """The job's kept launch environment (None: a job from before it was kept)."""
        self.mask = Redactor()
        """The job's Redactor once the job is claimed: every text derived from the job that
        this worker stores (reasons, events, callback output) goes through it."""
        try:
            self.config = config.load(state)
        except JobcoreError as exc:
            print(f"jobcore: {exc}; using the defaults")
            self.config = {name: key.default for name, key in config.KEYS.items()}
        self.terminated = False
        """Set by a SIGTERM to the worker (a shutdown); the loops look at it between waits."""

    def _on_sigterm(self, _signum: int, _frame: object) -> None:
        """Only a flag: the queue wait, the command's pump and the batch loop each wake at
        least every 0.25 s, see it, and end the job in order (no exception mid-write)."""
        self.terminated = True

    def _is_terminated(self) -> bool:
        return self.terminated

    def note(self, line: str) -> None:
        """A line of the worker's own in the job log (its stdout); a full disk drops it, and
        the next line that gets through says so."""
        if self.notes_lost:
            line = f"jobcore: {self.notes_lost} line(s) of jobcore lost: the disk was full\n{line}"
        try:
            os.write(1, (line + "\n").encode())  # the worker's stdout is the job log
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            self.notes_lost += 1
        else:
            self.notes_lost = 0

    def claim(self) -> Job | None:
        """Take ownership of a queued job; None if it is not ours to run (stopped, resumed)."""
        return self.store.patience.call(self._claim)

    def _claim(self) -> Job | None:
        row = self.store.conn.execute("SELECT * FROM jobs WHERE id = ?", (self.job_id,)).fetchone()
        if row is not None and _adopted(row, self.claim_token, self.me):
            return Job.from_row(row)  # its starter recorded it: no write needed
        with self.store.write() as conn:
            refused = transitions.adopt(conn, self.job_id, self.claim_token, self.me)
        if refused is not None:
            print(f"jobcore: worker {self.me.pid} leaves: {refused}")
            return None
        return self.store.get(self.job_id)

    def redactor(self, job: Job) -> Redactor:
        """What to mask in this job's output: known token shapes and secret env values."""
        listed = [*job.redact, *self.config["redact_env"]]
        return Redactor.for_env(self.command_env(job), listed)

    def command_env(self, job: Job) -> dict[str, str]:
        """The job's environment: ours, the job's ``--env``, then its marker and id (last, so
        nothing given at launch can make the command pass for another job's)."""
        env = dict(os.environ if self.launch_env is None else self.launch_env)
        env.update(job.env)
        env[ENV_JOB] = self.state.job_marker(job.id)
        env[ENV_JOB_ID] = job.id
        env[ENV_HOME] = str(self.state.root)
        env.pop(ENV_GROUP, None)
        env.pop(ENV_SLOT, None)
        if self.slot is not None:
            env[ENV_GROUP] = job.queue.group
            env[ENV_SLOT] = str(self.slot)
        env.setdefault("PYTHONUNBUFFERED", "1")  # live logs from Python programs on a pipe
        return env

    def run(self) -> int:
        job = self.claim()
        if job is None:
            self.hand_over()  # the slot we were given goes to whoever's turn it is
            return 0
        try:
            self.run_claimed(job)
        finally:
            self.hand_over()
        return 0

    def run_claimed(self, job: Job) -> None:
        try:
            self.launch_env = launch_env.load(self.state, job.id)
        except JobcoreError as exc:
            self.finish(Ending(JobStatus.FAILED, str(exc)))
            return
        self.mask = self.redactor(job)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            log_fd = open_private(
                self.state.log_path(job.id), os.O_WRONLY | os.O_APPEND | os.O_CREAT, self.state.root
            )
        except (OSError, JobcoreError) as exc:
            self.finish(Ending(JobStatus.FAILED, f"cannot open the log: {exc}"))
            return
        try:
            if job.started_at is not None:
                how = "by itself " if self._resumed_by_itself(job) else ""
                self.note(f"--- jobcore: resumed {how}at {iso(clock.wall())} ---")
            ending = requested_ending(job.stop_request) or self.run_holding_slot(job, log_fd)
            self.finish(ending)
            self.hand_over()  # the next job starts before this one's callback runs
            if ending.status.is_final:
                self.after_end(job, ending, log_fd)
        finally:
            os.close(log_fd)

    def _resumed_by_itself(self, job: Job) -> bool:
        """Whether the last resume was a self-pause's ``retry_after`` coming round."""
        row = self.store.conn.execute(
            "SELECT actor FROM events WHERE job_id = ? AND kind = 'resumed'"
            " ORDER BY seq DESC LIMIT 1",
            (job.id,),
        ).fetchone()
        return row is not None and row["actor"] == "queue"

    def run_holding_slot(self, job: Job, log_fd: int) -> Ending:
        """Run the job with its group slot, handed down to its command; then let it go."""
        runner = self.runner(job, log_fd)
        runner.slot_fd = self.slot_fd
        try:
            return self.run_once(job, runner)
        finally:
            self.release_slot()

    def release_slot(self) -> None:
        if self.slot_fd is not None:
            os.close(self.slot_fd)
            self.slot_fd = None

    def hand_over(self) -> None:
        """The job is recorded as ended: start what waited for its slot (or for it, with
        ``--after``), and make sure a dispatcher looks after what still waits (a self-pause's
        ``retry_after``). Once; a failure here only delays the queue, never this job."""
        if self.handed_over:
            return
        self.handed_over = True
        self.release_slot()
        if self.follow_ups is None:
            return
        try:
            for job_id, error in self.follow_ups.start_waiting(self.state, self.store).items():
                self.note(f"jobcore: could not start job {job_id}: {error}")
        except (JobcoreError, OSError, sqlite3.Error) as exc:
            self.note(f"jobcore: could not start the next job: {exc}")

    def run_once(self, job: Job, runner: BatchRun | CommandJob) -> Ending:
        """Run the job once; a SIGTERM to the worker ends it as failed (and resumable).

        A batch's ending already says what a stop request did (its worker stopped the items).
        A command's ending gives way to the request only if the stop signalled the command
        while it ran: a command that ended by itself before a stop (killed half-way, or
        racing that end) reached it keeps its own ending.
        """
        if not self.store.patience.call(lambda: self._mark_started(job)):
            # Ended meanwhile (a stop before the command started): nothing runs.
            ended = self.store.get(job.id)
            return Ending(ended.status, ended.reason, ended.exit_code, actor="user")
        runner.cgroup = self.job_cgroup(job)
        if job.is_batch:
            settle_worker()  # a command's worker settles once its command runs (CommandJob)
        try:
            ending = runner.run()
            if self.terminated:
                from jobcore.procs.tree import kill_job_tree

                marker = self.state.job_marker(job.id)
                kill_job_tree(marker, self.me, grace=LEFTOVER_GRACE_S, cgroup=runner.cgroup)
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if runner.cgroup is not None:
                self.remove_cgroup(runner.cgroup)
        if job.is_batch:
            return ending
        row = self.store.conn.execute(
            "SELECT stop_request, stop_signalled FROM jobs WHERE id = ?", (job.id,)
        ).fetchone()
        requested = requested_ending(row["stop_request"]) if row["stop_signalled"] else None
        return requested or ending

    def _mark_started(self, job: Job) -> bool:
        with self.store.write() as conn:
            return transitions.mark_running(conn, job.id, self.me)

    def job_cgroup(self, job: Job) -> JobCgroup | None:
        """This run's own cgroup, for commands (a ``--call`` batch runs in the worker)."""
        if not job.command:
            return None
        return create_for_run(self.state, job.id, self.me.pid)

    def remove_cgroup(self, group: JobCgroup) -> None:
        """Stop what the run left in its cgroup (a batch item's daemon), then remove it."""
        leftovers = group.stop(LEFTOVER_GRACE_S, spare=self.me.pid)
        if leftovers:
            self.note(f"jobcore: stopped {leftovers} leftover process(es)")
        if not group.remove():
            self.note(f"jobcore: cgroup {group.path} is still in use; reconcile removes it")

    def runner(self, job: Job, log_fd: int) -> BatchRun | CommandJob:
        """What runs the job: a batch of items, or one command."""
        env, redact = self.command_env(job), self.mask
        if job.is_batch:
            from jobcore.worker.batch import BatchRun

            return BatchRun(
                self.store, job, env, log_fd, self.config["grace"], self._is_terminated, redact
            )
        from jobcore.worker.command_job import CommandJob

        return CommandJob(self.store, job, self.me, env, log_fd, self._is_terminated, redact)

    def finish(self, ending: Ending) -> None:
        """Record how the job ended, however long the database takes to be writable."""
        self.store.patience.call(
            lambda: self.store.finish_if_active(
                self.job_id,
                ending.status,
                None if ending.reason is None else self.mask.text(ending.reason),
                expect_worker=self.me,
                exit_code=ending.exit_code,
                paused_until=ending.paused_until,
                actor=ending.actor,
            )
        )

    def after_end(self, job: Job, ending: Ending, log_fd: int) -> None:
        """The job is over: run its callback, then apply the retention policy.

        ``notify`` (subprocess, shutil) is imported only where a callback or a desktop
        notification is set up: most jobs have neither.
        """
        command = job.on_done or self.config["on_done"]
        if command:
            from jobcore.worker.notify import run_callback

            outcome = run_callback(job, ending, command, self.callback_env(job), log_fd, self.mask)
            reason = self.mask.text(f"{command!r}: {outcome}")
            self.store.patience.call(lambda: self._record_callback(job, reason))
        if self.config["notify_after"] is not None:
            from jobcore.worker.notify import notify_desktop

            notify_desktop(self.store.get(job.id), self.config["notify_after"])
        keep = self.config["keep"]
        if keep is not None and self.follow_ups is not None:
            follow_ups = self.follow_ups
            self.store.patience.call(lambda: follow_ups.clean(self.state, self.store, keep))

    def callback_env(self, job: Job) -> dict[str, str]:
        """The job's environment, for its callback (which is told about the job besides)."""
        env = self.command_env(job)
        env["JOBCORE_JOB_LOG"] = str(self.state.log_path(job.id))
        return env

    def _record_callback(self, job: Job, text: str) -> None:
        with self.store.write() as conn:
            record_event(conn, job.id, "callback", "worker", text)


def _close_inherited_fds(keep: int | None = None, every: bool = False) -> None:
    """Close what the launcher's caller left open to us beyond the three standard streams.

    Python and SQLite open everything close-on-exec, so an inheritable descriptor here came
    from whoever launched the job: a pipe of the shell's, or the group slot of the job we
    were launched from (``jobcore run`` inside a job), which we must not hold for as long
    as we run. A forked worker (``every``) got all of its launcher's descriptors, since no
    exec closed any: it closes them all.
    """
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            with contextlib.suppress(OSError):
                if fd > 2 and fd != keep and (every or os.get_inheritable(fd)):
                    os.close(fd)


def get_ready(root: str) -> None:
    """What a worker is before any job: its terminal's hangup ignored, no folder of its
    starter's kept busy (an unmount, a deleted dir), the parent of what its command leaves
    behind, and free to fork the next job's worker once its store is closed and its slot let
    go (``jobcore.procs.forking`` marks that one as its own job's). A spare does it ahead."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    os.chdir(root)
    _become_subreaper()
    forking.allow()


def serve(
    root: str,
    job_id: str,
    claim: str,
    slot_fd: int | None,
    *,
    forked: bool = False,
    follow_ups: FollowUps | None = None,
) -> int:
    """Run a job as its detached worker, once stdio is the job log and the session our own:
    what ``python -m jobcore.worker`` and a worker ``forked`` by the launcher share."""
    _close_inherited_fds(keep=slot_fd, every=forked)
    get_ready(root)
    return run_ready(root, job_id, claim, slot_fd, follow_ups)


def run_ready(
    root: str,
    job_id: str,
    claim: str,
    slot_fd: int | None,
    follow_ups: FollowUps | None,
    store: Store | None = None,
) -> int:
    """Run the job in a worker ``get_ready`` (with the ``store`` a spare opened ahead)."""
    worker = Worker(StateDir(Path(root).absolute()), job_id, claim, slot_fd, follow_ups, store)
    # It exits without closing its store, as the command does: a close by the last
    # connection would checkpoint and delete the WAL, for the next command to make again
    # (docs/decisions/0014-no-checkpoint-on-exit.md).
    return worker.run()
