"""The dispatcher: one per state folder, alive while something waits and ``LINGER_S`` after.

It keeps no state and never polls: one ``poll()`` on the workers' pidfds, the wake-up FIFO,
its launch socket and a timer, so a waiting job costs nothing
(docs/decisions/0006-dispatcher-sleeps-on-pidfds-and-a-fifo.md).
Each wake it launches the ``jobcore run`` lines handed to it
(docs/decisions/0028-hand-the-launch-to-the-dispatcher.md), reconciles, puts due
self-paused jobs back in line and starts what may start
(``jobcore.ops.dispatch.start_waiting``); when nothing has waited and no launch has come
for ``LINGER_S``, it exits.

A singleton through a ``flock`` on ``dispatch.lock``; started detached on demand by any
command that finds waiting work and no dispatcher (``jobcore.ops.dispatch.ensure``). Run as
``python -m jobcore.ops.dispatcher STATE_DIR``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

from jobcore.base import redact
from jobcore.base.errors import JobcoreError
from jobcore.base.handoff import Request
from jobcore.ops import dispatch, spare, spares, wakeup
from jobcore.ops.dispatch import LINGER_S
from jobcore.ops.launch_socket import LaunchSocket, Reply
from jobcore.ops.reconcile import reconcile
from jobcore.procs import forking
from jobcore.procs.cgroup import settle_worker
from jobcore.procs.identity import is_alive
from jobcore.state.paths import ENV_JOB, StateDir, open_folder
from jobcore.state.store import Store

Launch = Callable[[StateDir, Store, Request], Reply | None]
"""Launches a ``jobcore run`` handed over (``jobcore.cli.run_service.launch_request``)."""

SAFETY_NET_S = 10.0
"""The longest sleep: a missed event (a slot held by a process that outlived its worker)
is noticed this late at worst."""
ERROR_PAUSE_S = 1.0
"""How long to wait before trying again when the database could not be used."""


class Dispatcher:
    """Starts waiting jobs of one state folder as soon as they may run, and launches the
    ``jobcore run`` lines handed to it, until none waits and none came for ``LINGER_S``."""

    def __init__(self, state: StateDir, lock_fd: int, launch: Launch | None = None) -> None:
        self.state = state
        self.lock_fd = lock_fd
        self.store = Store(state)
        self.fifo = self._open_fifo()
        self.launch = launch
        """Launches a ``jobcore run`` handed over (None: this one takes no launches)."""
        self.launch_socket = None if launch is None else LaunchSocket(state)
        self.last_launch = time.monotonic()
        """When a launch last came (or this started): it stays ``LINGER_S`` after."""
        self.watched: dict[int, int] = {}
        """A pidfd per worker being watched, by pid: a worker stays watched after its job
        is recorded as ended until it exits, so one killed before it told us its slot is
        free still wakes us."""

    def _open_fifo(self) -> int:
        """Our end of the wake-up FIFO, read-write so it never reads end-of-file."""
        dir_fd = open_folder(self.state.root, self.state.root)
        try:
            with contextlib.suppress(FileExistsError):
                os.mkfifo(wakeup.FIFO_NAME, 0o600, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
        return wakeup.open_fifo(self.state, os.O_RDWR)

    def run(self) -> None:
        while True:
            self._take_launches()
            self._drain()
            self._reap()
            try:
                self._start_what_may_start()
            except (JobcoreError, sqlite3.Error) as exc:  # a locked or full database: later
                print(f"jobcore dispatcher: {exc}", flush=True)
                self._watch_workers()
                self._sleep(ERROR_PAUSE_S)
                continue
            if not dispatch.has_waiting(self.store) and not self._lingers() and not self._stay():
                return
            if not self._watch_workers():  # one gone: its job to reconcile, its slot free now
                self._sleep()

    def _start_what_may_start(self) -> None:
        reconcile(self.store, actor="dispatcher")
        dispatch.release_dead_claims(self.store)
        dispatch.resume_due(self.store)
        for job_id, error in dispatch.start_waiting(self.state, self.store).items():
            print(f"jobcore dispatcher: job {job_id}: {error}", flush=True)

    def _take_launches(self) -> None:
        if self.launch_socket is not None and self.launch_socket.serve_waiting(self._launch):
            self.last_launch = time.monotonic()

    def _launch(self, request: Request) -> Reply | None:
        return None if self.launch is None else self.launch(self.state, self.store, request)

    def _lingers(self) -> bool:
        return self.launch_socket is not None and time.monotonic() - self.last_launch < LINGER_S

    def _stay(self) -> bool:
        """Nothing waits: leave, unless work came in while we were leaving.

        The launch socket is closed first (a client now launches its job itself), then the
        FIFO (a wake-up now fails, and its sender starts a dispatcher if the lock is free),
        then the lock; only then is the database read again, so work committed before any
        of them is seen here or by the next dispatcher.
        """
        if self.launch_socket is not None:
            self.launch_socket.close(self._launch)
            self.launch_socket = None
        spares.let_go()
        os.close(self.fifo)
        fcntl.flock(self.lock_fd, fcntl.LOCK_UN)
        if not dispatch.has_waiting(self.store):
            return False
        try:
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # another dispatcher took over
        self.fifo = self._open_fifo()
        if self.launch is not None:
            self.launch_socket = LaunchSocket(self.state)
        return True

    def _sleep(self, longest: float = SAFETY_NET_S) -> None:
        """Until a watched worker ends, a wake-up comes, or the next job is due.

        Launches or starts are coming one after another: a spare worker waits for the next
        (``jobcore.ops.spare``), let go ``SPARE_S`` after the last."""
        due = dispatch.next_due(self.store)
        since = time.monotonic() - self.last_launch
        busy = spare.SPARE_S - min(since, spare.since_start())
        if busy > 0:
            spares.keep(self.state, self.store, dispatch.AFTER_JOB)
            due = busy if due is None else min(due, busy)
        else:
            spares.let_go()
        linger = LINGER_S - since
        if self.launch_socket is not None and linger > 0:  # woken when it is over, to leave
            due = linger if due is None else min(due, linger)
        timeout = longest if due is None else max(0.0, min(due, longest))
        poller = select.poll()
        poller.register(self.fifo, select.POLLIN)
        if self.launch_socket is not None:
            poller.register(self.launch_socket.fileno(), select.POLLIN)
        for fd in self.watched.values():
            poller.register(fd, select.POLLIN)
        poller.poll(timeout * 1000 + 1)

    def _watch_workers(self) -> bool:
        """Watch every live worker of an active job (its pidfd taken first, then proven to
        be it), and keep watching those watched before until they exit. Whether one is
        gone: exited since it was watched, or dead before it could be (killed the instant
        it was started): nothing would wake us for that one."""
        gone = False
        for pid, fd in list(self.watched.items()):
            if select.select([fd], [], [], 0)[0]:  # readable: it has exited
                os.close(fd)
                del self.watched[pid]
                gone = True
        for worker in self.store.active_workers():
            if worker.pid in self.watched:
                continue
            try:
                fd = os.pidfd_open(worker.pid)
            except OSError:  # no such process any more
                gone = True
                continue
            if is_alive(worker):
                self.watched[worker.pid] = fd
            else:
                os.close(fd)
                gone = True
        return gone

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.fifo, 4096):
                pass

    @staticmethod
    def _reap() -> None:
        """Collect the workers we started that have exited (no zombies)."""
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass

    def close(self) -> None:
        spares.let_go()
        if self.launch_socket is not None:
            self.launch_socket.close(self._launch)
        with contextlib.suppress(OSError):
            os.close(self.fifo)
        for fd in self.watched.values():
            os.close(fd)
        self.store.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m jobcore.ops.dispatcher STATE_DIR", file=sys.stderr)
        return 2
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # Started with a marker of no job in its environment (``wakeup.spawn_dispatcher``), which
    # stays in /proc/PID/environ: a sweep of the job it was started from leaves it alone.
    os.environ.pop(ENV_JOB, None)
    forking.allow()  # one thread, its store closed across each start: workers are its forks
    # What a forked worker of a command needs, imported once here rather than in each.
    import jobcore.ops.launcher
    import jobcore.state.config
    import jobcore.state.estimate
    import jobcore.view.fmt  # and what a launch handed to it needs
    import jobcore.worker.command_job
    import jobcore.worker.notify
    import jobcore.worker.worker  # noqa: F401

    redact.compile_all()
    settle_worker()  # out of its starter's cgroup; the workers it forks are born settled
    state = StateDir(Path(args[0]).absolute())
    os.chdir(state.root)
    try:
        lock_fd = wakeup.open_lock(state)
    except (OSError, JobcoreError) as exc:
        print(f"jobcore dispatcher: {exc}", flush=True)
        return 1
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # one runs already
    from jobcore.cli.run_service import launch_request  # the lines it takes are the CLI's

    dispatcher = Dispatcher(state, lock_fd, launch_request)
    try:
        dispatcher.run()
    finally:
        dispatcher.close()
    return 0


if __name__ == "__main__":
    # Nothing its starter left open stays open: started by a `jobcore run` inside a job of a
    # limited group, it would hold that job's slot (an inherited flock) for as long as it
    # lives, and it lives while that group's next job waits for the slot.
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))
    code = main()
    sys.stdout.flush()
    os._exit(code)
