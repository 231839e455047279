"""Run a one-command job: start the command, stream its output, collect its exit.

The worker's other kind of job is a batch (``jobcore.worker.batch``). Its own module, so a
batch's worker never imports subprocess and the progress parser
(docs/decisions/0015-light-start-path-imports.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from jobcore.base.progress_parse import WANTED, parse_line
from jobcore.procs import cgroup_child
from jobcore.procs.cgroup import LEFTOVER_GRACE_S, JobCgroup, settle_worker
from jobcore.procs.identity import identity_of
from jobcore.procs.procfs import has_children
from jobcore.state.live_line import LiveLine
from jobcore.state.models import (
    TERMINATED,
    Ending,
    Job,
    JobStatus,
    ProcessIdentity,
    exit_reason,
)
from jobcore.state.reporter import Reporter
from jobcore.state.store import Store
from jobcore.worker.logwriter import LogWriter

if TYPE_CHECKING:
    import subprocess

    from jobcore.base.redact import Redactor

    Started = subprocess.Popen[bytes] | cgroup_child.Child
    """A started command: what the pump polls."""

READ_SIZE = 1024 * 1024
PIPE_SIZE = 1024 * 1024
"""The output pipe's buffer, raised from 64 KiB so a chatty command writes ahead of the worker
(docs/decisions/0010-output-by-the-chunk.md)."""
POLL_S = 0.25
DRAIN_S = 0.5
REAP_STEP_S = 0.01


def _reap_adopted(main_pid: int) -> None:
    """Reap exited orphans re-parented to us, never the main child (Popen reaps that)."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid == main_pid:
            return
        os.waitpid(info.si_pid, 0)


def command_ending(returncode: int, said: str = "") -> Ending:
    """How a one-command job ends, given its exit code (negative: killed by a signal) and
    what it last said (its last ``::error``, else its last line of output)."""
    if returncode == 0:
        return Ending(JobStatus.COMPLETED, None, returncode)
    return Ending(JobStatus.FAILED, exit_reason(returncode, said), returncode)


class CommandJob:
    """One command run to its end, its output in the log and its progress lines reported."""

    def __init__(
        self,
        store: Store,
        job: Job,
        me: ProcessIdentity,
        env: dict[str, str],
        log_fd: int,
        terminated: Callable[[], bool],
        redact: Redactor | None,
    ) -> None:
        self.store = store
        self.job = job
        self.me = me
        self.env = env
        self.log_fd = log_fd
        self.terminated = terminated
        """The worker's SIGTERM flag: the pump stops the command's tree when it is set."""
        self.redact = redact
        self._last_error: str | None = None
        """The message of its last ``::error`` line: the reason it failed, if it says."""
        self._unrecorded_pid: dict[str, float | None] = {}
        """The command's pid and start, until they are in the database."""
        self.slot_fd: int | None = None
        """The job's group slot (``jobcore.ops.dispatch``), passed on to the command."""
        self.cgroup: JobCgroup | None = None
        """Set by the worker where the run has its own cgroup: the command is born in it."""

    def run(self) -> Ending:
        job, log_fd = self.job, self.log_fd
        reporter = Reporter(
            self.store, job.id, shown=None if self.redact is None else self.redact.text
        )

        def on_line(line: bytes) -> bool:
            change = parse_line(line, writer.row)
            if change is None:
                return False
            if change.error is not None:
                self._last_error = change.error
            reporter.update(change)
            return change.is_marker and change.error is None

        live = LiveLine(self.store.state.live_path(job.id))
        writer = LogWriter(log_fd, on_line, redact=self.redact, live=live, wants=WANTED)
        read_fd, write_fd = os.pipe()
        with contextlib.suppress(OSError, AttributeError):  # Linux only; capped for users
            fcntl.fcntl(read_fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        try:
            proc = self.start(job, write_fd)
            os.close(write_fd)
            if isinstance(proc, str):
                writer.feed(f"jobcore: {proc}\n".encode())
                return Ending(JobStatus.FAILED, proc)
            identity = identity_of(proc.pid)
            self._unrecorded_pid = {
                "cmd_pid": proc.pid,
                "cmd_start": identity.start if identity else None,
            }
            self._record_pid()
            # Out of the launcher's cgroup only now: the move waits ~10 ms for the kernel,
            # and the command's start need not (docs/decisions/0026-command-born-in-its-cgroup.md)
            settle_worker()
            returncode = self.pump(proc, read_fd, writer, reporter)
            if returncode is None:
                return TERMINATED
            return command_ending(returncode, self._said(writer))
        finally:
            writer.close()
            reporter.close()
            os.close(read_fd)

    def _said(self, writer: LogWriter) -> str:
        """What the command last said, for the reason it failed: its ``::error``, else its
        last line (stderr and stdout share one pipe, so of either)."""
        if self._last_error is not None:
            return self._last_error[:500]
        return writer.last_line.decode("utf-8", "replace").strip()[:500]

    def _record_pid(self) -> None:
        """Record the command's identity; if the database cannot take it now, try again
        between reads of its output (the output must keep flowing)."""
        if self._unrecorded_pid and self.store.patience.attempt(self._write_pid):
            self._unrecorded_pid = {}

    def _write_pid(self) -> None:
        with self.store.briefly():
            self.store.update(self.job.id, **self._unrecorded_pid)

    def start(self, job: Job, out_fd: int) -> Started | str:
        """Start the command; on failure return the one-line reason instead.

        Born in the run's cgroup where it has one (cloned into it where the kernel can,
        else moved in before its exec). The command inherits the group slot's descriptor,
        so the slot stays taken for as long as any process of the job holds it, not only
        while this worker lives: see ``jobcore.state.queue``.
        """
        if not os.path.isdir(job.cwd):
            return f"cwd does not exist: {job.cwd}"
        pass_fds = () if self.slot_fd is None else (self.slot_fd,)
        if self.cgroup is not None and not self.cgroup.reachable():
            settle_worker()  # it is reachable from jobcore/workers
        try:
            if self.cgroup is not None:
                with open(os.devnull, "rb") as null:
                    child = cgroup_child.start(
                        job.command,
                        cgroup=str(self.cgroup.path),
                        cwd=job.cwd,
                        env=self.env,
                        stdio=(null.fileno(), out_fd, out_fd),
                        pass_fds=pass_fds,
                    )
                if child is not None:
                    return child
            return self._popen(job, out_fd, pass_fds)
        except FileNotFoundError:
            return f"command not found: {job.command[0]}"
        except PermissionError:
            return f"permission denied: {job.command[0]}"
        except OSError as exc:
            return f"cannot start {job.command[0]}: {exc.strerror or exc}"

    def _popen(
        self, job: Job, out_fd: int, pass_fds: tuple[int, ...]
    ) -> subprocess.Popen[bytes] | str:
        """Start the command through Popen: with no cgroup, or where it cannot be cloned
        into one (it moves in before its exec). subprocess is imported only here."""
        import subprocess

        try:
            return subprocess.Popen(
                job.command,
                cwd=job.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out_fd,
                stderr=out_fd,
                close_fds=True,
                pass_fds=pass_fds,
                preexec_fn=self.cgroup.enter if self.cgroup is not None else None,
            )
        except subprocess.SubprocessError:  # only preexec_fn raises this, so a cgroup exists
            where = "" if self.cgroup is None else f" {self.cgroup.path}"
            return f"cannot start {job.command[0]} in its cgroup{where}"

    def pump(
        self, proc: Started, read_fd: int, writer: LogWriter, reporter: Reporter
    ) -> int | None:
        """Copy output until the command exits, then stop what it left behind and drain.

        Returns the exit code, or None if the worker's SIGTERM came first: then the whole
        tree, the command included, is stopped.
        """
        while proc.poll() is None and not self.terminated():
            self._read_some(read_fd, writer, reporter, POLL_S)
            _reap_adopted(proc.pid)
            self._record_pid()
        interrupted = proc.returncode is None
        leftovers = self._stop_leftovers()
        if leftovers and not interrupted:
            said = writer.last_line  # the note is ours, not the command's last words
            writer.feed(f"jobcore: stopped {leftovers} leftover process(es)\n".encode())
            writer.last_line = said
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline and self._read_some(read_fd, writer, reporter, 0.05):
            pass
        deadline = time.monotonic() + DRAIN_S
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(REAP_STEP_S)  # killed above, unless stuck in the kernel
        _reap_adopted(proc.pid)
        return None if interrupted else proc.returncode

    def _stop_leftovers(self) -> int:
        """Stop what the command left running; how many processes were signalled.

        The worker is a child subreaper: whatever the command left is re-parented to it
        by the time the command's exit is seen, and is in the run's cgroup where it has
        one. With no child and an empty cgroup, there is nothing to stop and no need to
        read every process's environment to be sure.
        """
        if has_children() is False and (self.cgroup is None or not self.cgroup.populated()):
            return 0
        from jobcore.procs.tree import kill_job_tree  # psutil: only now

        marker = self.store.state.job_marker(self.job.id)
        return kill_job_tree(marker, self.me, grace=LEFTOVER_GRACE_S, cgroup=self.cgroup)

    def _read_some(self, fd: int, writer: LogWriter, reporter: Reporter, timeout: float) -> bool:
        """Read what is available within ``timeout``; False at end of output or when idle."""
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            writer.idle()
            reporter.flush()
            return False
        data = os.read(fd, READ_SIZE)
        if not data:
            return False
        writer.feed(data)
        reporter.flush()
        return True
