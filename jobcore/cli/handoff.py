"""``jobcore run`` handed to the live dispatcher of its state folder, which launches it.

A dispatcher lives while jobs wait and for a few seconds after the last launch it took
(``jobcore.ops.dispatcher``). While it does, a plain ``run`` line goes to it over the 0600
socket in the state folder: this process imports no sqlite3, pathlib, typing or json, and
the dispatcher, warm and holding its connection, launches the job as the line would have,
with this process's folder and environment, and says what to print
(docs/decisions/0028-hand-the-launch-to-the-dispatcher.md).

Anything else — another command, a batch, ``--follow``, a folder this cannot find without
platformdirs, no dispatcher, one of other code — is launched here, by ``jobcore.cli.main``.
"""

from __future__ import annotations

import _socket  # not socket: its enums are 3 ms
import os
import stat
import sys

from jobcore.base import handoff
from jobcore.base.home import folder_named
from jobcore.cli.quick import parse_run

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

REPLY_TIMEOUT_S = 30.0
"""How long a dispatcher may take to launch (a database busy with a long write); after
that this process launches the job itself, under the same token."""
BATCH_ONLY = ("each", "parallel", "retries", "backoff", "call", "processes", "cluster")
"""Options of a batch: its items may come from stdin, so it is launched here."""


def taken(args: argparse.Namespace) -> bool:
    """Whether a dispatcher may launch this ``run`` line: one command, nothing read from
    this process's stdin, nothing to follow after."""
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return bool(command) and not args.follow and not any(getattr(args, f) for f in BATCH_ONLY)


def hand_off(argv: list[str]) -> tuple[int | None, str | None]:
    """``(exit code, None)`` when the dispatcher launched the line; ``(None, token)`` when
    this process must launch it, ``token`` naming the job if the dispatcher went silent
    after being asked (it may have made it); ``(None, None)`` when nothing was asked."""
    if "_ARGCOMPLETE" in os.environ:
        return None, None
    args = parse_run(argv)
    if args is None or not taken(args):
        return None, None
    folder = folder_named(getattr(args, "home", None))
    sock = None if folder is None else _connect(folder)
    if sock is None:
        return None, None
    token = os.urandom(16).hex()
    try:
        request = handoff.Request(token, os.getcwd(), list(argv), dict(os.environ))
        sock.sendall(request.pack())
        sock.shutdown(_socket.SHUT_WR)
        reply = _read_all(sock)
    except OSError:  # a deleted cwd (said by the launch here), a timeout, a dead dispatcher
        return None, token
    finally:
        sock.close()
    code, out, err = (*handoff.unpack(reply, 2), "", "")[:3]
    if not (code.isascii() and code.isdigit() and len(code) < 4):
        return None, token
    _write(1, out)
    _write(2, err)
    return int(code), None


def _connect(folder: str) -> _socket.socket | None:
    """A connection to the dispatcher of ``folder``: a socket of ours in a folder of ours,
    answered by a process of ours; None where there is none."""
    try:
        dir_fd = os.open(folder, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        here = os.fstat(dir_fd)
        found = os.stat(handoff.SOCKET_NAME, dir_fd=dir_fd, follow_symlinks=False)
        if here.st_uid != os.getuid() or here.st_mode & 0o077:
            raise PermissionError  # the full launch says what is wrong with the folder
        if found.st_uid != os.getuid() or not stat.S_ISSOCK(found.st_mode):
            raise PermissionError
        sock.settimeout(REPLY_TIMEOUT_S)
        # by the descriptor: a socket's path may be no longer than 107 bytes
        sock.connect(f"/proc/self/fd/{dir_fd}/{handoff.SOCKET_NAME}")
        peer = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
        if int.from_bytes(peer[4:8], sys.byteorder) != os.getuid():
            raise PermissionError
    except OSError:
        sock.close()
        return None
    finally:
        os.close(dir_fd)
    return sock


def _read_all(sock: _socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _write(fd: int, text: str) -> None:
    data = os.fsencode(text)
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError:
        pass  # a closed stdout (`| head`): the job is launched all the same
