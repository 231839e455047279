"""The dispatcher's end of a ``jobcore run`` handed to it: its socket, and a request served.

The socket is ``dispatch.sock`` in the state folder (0700), made 0600; a request is read
only from a process of this user, and taken only from one whose children start as the
dispatcher's would (``jobcore.procs.inherited``). Anything else gets "not taken" and the
client launches the job itself (docs/decisions/0028-hand-the-launch-to-the-dispatcher.md).
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import time
import traceback
from collections.abc import Callable

from jobcore.base.handoff import MAX_REQUEST, NOT_TAKEN, SOCKET_NAME, Request, pack
from jobcore.procs.inherited import same_as_mine
from jobcore.state.paths import StateDir, open_folder

Reply = tuple[int, str, str]
"""A launch's exit code, stdout and stderr."""
Serve = Callable[[Request], Reply | None]
"""Launches a request (None: leaves it to the client)."""
REQUEST_TIMEOUT_S = 2.0
"""A client sends its request as soon as it connects; one that stalls longer is dropped
(it then launches the job itself)."""


class LaunchSocket:
    """The listening socket of a dispatcher, bound while it takes launches."""

    def __init__(self, state: StateDir) -> None:
        self.dir_fd = open_folder(state.root, state.root)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(SOCKET_NAME, dir_fd=self.dir_fd)  # a dead dispatcher's; we hold the lock
            umask = os.umask(0o177)
            try:  # by the descriptor: a socket's path may be no longer than 107 bytes
                self.sock.bind(f"/proc/self/fd/{self.dir_fd}/{SOCKET_NAME}")
            finally:
                os.umask(umask)
            self.sock.listen(64)
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            os.close(self.dir_fd)
            raise

    def fileno(self) -> int:
        return self.sock.fileno()

    def serve_waiting(self, launch: Serve) -> int:
        """Serve every client that has connected; how many."""
        served = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return served
            with conn:
                _serve(conn, launch)
            served += 1

    def close(self, launch: Serve) -> None:
        """Stop taking launches: the path first (a new client launches itself), then the
        clients that connected before it went are served, then the socket is closed."""
        with contextlib.suppress(OSError):
            os.unlink(SOCKET_NAME, dir_fd=self.dir_fd)
        self.serve_waiting(launch)
        self.sock.close()
        os.close(self.dir_fd)


def _serve(conn: socket.socket, launch: Serve) -> None:
    """Read one request, launch it if it may be taken, answer; a client gone is ignored."""
    conn.settimeout(REQUEST_TIMEOUT_S)  # the answer's sending, too
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _ = struct.unpack("3i", creds)
        if uid != os.getuid():
            return
        data = _read_request(conn)
        request = None if data is None else Request.unpack(data)
        reply = None
        if request is not None and same_as_mine(pid):
            try:
                reply = launch(request)
            except Exception:  # a fault of ours: the client launches it, under the same token
                traceback.print_exc()
        fields = (NOT_TAKEN,) if reply is None else (str(reply[0]), reply[1], reply[2])
        conn.sendall(pack(fields))
    except OSError:
        pass


def _read_request(conn: socket.socket) -> bytes | None:
    """The request up to the client's end of writing; None past ``MAX_REQUEST`` or
    ``REQUEST_TIMEOUT_S`` in all (a client sending a byte a second holds nothing up)."""
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + REQUEST_TIMEOUT_S
    while True:
        conn.settimeout(max(0.001, deadline - time.monotonic()))
        chunk = conn.recv(1 << 16)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REQUEST:
            return None
        chunks.append(chunk)
