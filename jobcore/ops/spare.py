"""A spare worker: a process forked ahead, that becomes the next job's worker.

A worker forked at the moment of a launch waits for its parent's CPU: the kernel queues a
new child where its parent runs, and the parent goes on (its connection opened again, the
worker recorded, the reply sent): the fork, that wait and the child's detaching were 3 to
4 ms of a 25 ms start on a 2-core machine. A spare has done all that, and opened its own
connection, before the launch comes; handed a job, it takes the job's marker, log and
claim and starts the command (docs/decisions/0029-a-spare-worker.md). Spares are forked
by the dispatcher's spare maker (``jobcore.ops.spare_maker``, decision 0030).

Only a starter that starts jobs one after another keeps one (the dispatcher, while
``jobcore run`` lines are handed to it or a queue drains through it), and only for
``SPARE_S`` after the last start: jobs that only wait cost no process of their own. A spare
is no job's (its marker names none) until it is handed one, and it exits when its starter
closes its end or dies.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from jobcore.state.paths import StateDir

if TYPE_CHECKING:
    from jobcore.worker.worker import FollowUps

SPARE_S = 0.5
"""How long a spare is kept after the last start: a script's launches and a draining
queue's starts come closer than this; a person typing them gains nothing from a spare."""

EXIT_WAIT_S = 0.5
"""The longest a starter waits for a spare, or a maker, it let go to exit (one stopped is
left)."""

Take = Callable[[str, str, int | None, tuple[int, int]], int]
"""Run a job as the worker this spare becomes: job id, claim, slot (or None) and the
log and ``/dev/null`` descriptors; returns its exit code."""


class Spare:
    """A forked, detached process waiting on ``sock`` for one job (the starter's side)."""

    def __init__(self, pid: int, sock: socket.socket, for_jobs: tuple[Path, FollowUps]) -> None:
        self.pid = pid
        self.sock = sock
        self.for_jobs = for_jobs
        """The state folder and follow-ups of the jobs it can run (it knows no others)."""

    def hand(self, job_id: str, claim: str, slot_fd: int | None, stdio: tuple[int, int]) -> bool:
        """Give the spare its job; False if it is gone (the caller forks a worker instead).
        Used once, whatever the answer."""
        fds = [*stdio] if slot_fd is None else [*stdio, slot_fd]
        try:
            socket.send_fds(self.sock, [f"{job_id}\0{claim}".encode()], fds, socket.MSG_NOSIGNAL)
        except OSError:
            return False
        finally:
            self.sock.close()
        return True

    def close(self) -> None:
        """Let the spare go: it reads the end of its socket and exits."""
        self.sock.close()


_kept: Spare | None = None
_wanted = float("-inf")
"""When this process last started a worker (``time.monotonic``)."""


def socket_pair() -> tuple[socket.socket, socket.socket]:
    """The starter's end and the spare's: one message is one job."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def keep(spare: Spare) -> None:
    """Keep ``spare`` for the next job (``jobcore.ops.spares.keep`` made it)."""
    global _kept
    _kept = spare


def kept() -> bool:
    """Whether a spare is kept."""
    return _kept is not None


def take_kept(state: StateDir, follow_ups: FollowUps) -> Spare | None:
    """The kept spare, if it can run a job of ``state`` with ``follow_ups``, for a worker
    about to be started; it is no longer kept either way."""
    global _kept, _wanted
    _wanted = time.monotonic()
    spare, _kept = _kept, None
    if spare is not None and spare.for_jobs != (state.root, follow_ups):
        spare.close()
        return None
    return spare


def since_start() -> float:
    """Seconds since this process last started a worker (infinite: never)."""
    return time.monotonic() - _wanted


def let_go() -> None:
    """Close the kept spare, if any, and wait for it to exit: at once, as it only waits for
    its socket's end. Its maker, let go after it, collects it meanwhile (no zombie)."""
    global _kept
    if _kept is None:
        return
    spare, _kept = _kept, None
    spare.close()
    wait_exit(spare.pid)


def wait_exit(pid: int) -> None:
    """Wait up to ``EXIT_WAIT_S`` for ``pid`` (a child or not) to exit."""
    with contextlib.suppress(OSError):  # gone already
        fd = os.pidfd_open(pid)
        try:
            select.select([fd], [], [], EXIT_WAIT_S)
        finally:
            os.close(fd)


def hold_only(sock: socket.socket) -> None:
    """Close every descriptor but the standard streams and ``sock``: a fork of the
    dispatcher keeps none of its lock, listening socket or database."""
    with contextlib.suppress(OSError):
        os.closerange(3, sock.fileno())
        os.closerange(sock.fileno() + 1, os.sysconf("SC_OPEN_MAX"))


def wait_for_job(sock: socket.socket, ready: Callable[[], Take]) -> int:
    """The spare's life, in its detached fork: holding nothing of its starter's (its lock,
    listening socket, database, the other end of this one), get ``ready``, wait for a job
    and run it with what that returned."""
    hold_only(sock)
    take = ready()
    message, fds, _flags, _address = socket.recv_fds(sock, 4096, 3)
    sock.close()
    if not message or len(fds) < 2:
        return 0  # let go, or its starter died
    job_id, claim = message.decode().split("\0")
    return take(job_id, claim, fds[2] if len(fds) > 2 else None, (fds[0], fds[1]))
