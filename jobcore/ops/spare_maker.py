"""The spare maker: a fork of the dispatcher, made once per burst, that forks its spare workers.

After a fork, the first write to each page shared with the child costs the writer a
copy-on-write fault (2.7 µs on the 2-core VM of docs/decisions/0030). A dispatcher that
forked a spare before each launch met about 250 of them on the next launch's path (0.7 ms),
and closed and opened its database connection around every fork. The maker forks the spares
instead: the dispatcher's pages are shared with it once, and it writes almost nothing.

It holds nothing of the dispatcher's but its end of a ``SOCK_SEQPACKET`` pair, and the
kernel collects its children (spares, and the workers they become). Asked for a spare, it
forks one and passes back its pid and the starter's end of the spare's socket; the
dispatcher then hands jobs to the spare itself (``jobcore.ops.spare``). It exits when the
dispatcher closes its end, or dies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from jobcore.ops import spare

if TYPE_CHECKING:
    from jobcore.worker.worker import FollowUps

MAKE_TIMEOUT_S = 1.0
"""The longest a dispatcher waits for a spare to be made (a maker that takes longer is let go)."""

Fork = Callable[[], tuple[int, socket.socket]]
"""Fork a spare: its pid, and the starter's end of its socket."""


class Maker:
    """A maker of spares (the dispatcher's side)."""

    def __init__(
        self, pid: int, sock: socket.socket, for_jobs: tuple[Path, FollowUps], settings: object
    ) -> None:
        self.pid = pid
        self.sock = sock
        sock.settimeout(MAKE_TIMEOUT_S)
        self.for_jobs = for_jobs
        """The state folder and follow-ups of the jobs its spares can run."""
        self.settings = settings
        """What its children inherit (``jobcore.procs.inherited``), as its starter had it."""

    def make(self) -> tuple[int, socket.socket] | None:
        """A new spare, as ``Fork`` gives it; None if the maker failed or is gone."""
        try:
            self.sock.send(b"spare")
            message, fds, _flags, _address = socket.recv_fds(
                self.sock, 64, 1, socket.MSG_CMSG_CLOEXEC
            )
        except OSError:
            return None
        if len(fds) != 1 or not message.isdigit():
            for fd in fds:
                os.close(fd)
            return None
        return int(message), socket.socket(fileno=fds[0])

    def close(self) -> None:
        """Close our end: it exits. Collected once it has (no zombie while we sleep)."""
        self.sock.close()
        spare.wait_exit(self.pid)
        with contextlib.suppress(ChildProcessError):  # collected already
            os.waitpid(self.pid, os.WNOHANG)


_kept: Maker | None = None


def keep(maker: Maker) -> None:
    """Keep ``maker`` for the spares to come (``jobcore.ops.spares.keep`` made it)."""
    global _kept
    _kept = maker


def kept(for_jobs: tuple[Path, FollowUps], settings: object) -> Maker | None:
    """The kept maker, if its spares can run jobs of ``for_jobs`` and start them as its
    starter would now (``settings``: a ``renice`` or ``taskset`` of the dispatcher since it
    forked the maker); one that cannot is let go."""
    if _kept is not None and (_kept.for_jobs, _kept.settings) != (for_jobs, settings):
        let_go()
    return _kept


def let_go() -> None:
    """Let the kept maker go, if any (``Maker.close``)."""
    global _kept
    maker, _kept = _kept, None
    if maker is not None:
        maker.close()


def serve(sock: socket.socket, fork: Fork) -> int:
    """The maker's life, in its detached fork of the dispatcher: make a spare each time one
    is asked for, until the dispatcher closes its end or dies."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel collects what it forks
    while True:
        try:
            if not sock.recv(16):
                return 0
        except OSError:
            return 0
        try:
            pid, starter_end = fork()
        except OSError:
            with contextlib.suppress(OSError):
                sock.send(b"failed")
            continue
        with starter_end, contextlib.suppress(OSError):
            socket.send_fds(sock, [str(pid).encode()], [starter_end.fileno()])
