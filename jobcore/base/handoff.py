"""What ``jobcore run`` and a live dispatcher say when the launch is handed over.

A request and its reply are text fields joined by NUL: nothing a request carries (argv, the
environment, paths) can hold a NUL, and the client, which must start in a few milliseconds,
needs no json (``re`` and ``enum`` come with it: 6 ms) to write one
(docs/decisions/0028-hand-the-launch-to-the-dispatcher.md).

    request: PROTOCOL, build, token, cwd, len(argv), *argv, *("NAME=VALUE" per variable)
    reply:   exit code ("" when the dispatcher leaves the launch to the client), stdout, stderr
"""

from __future__ import annotations

import os
import sys

import jobcore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

SOCKET_NAME = "dispatch.sock"
"""The dispatcher's socket in the state folder (0600; the folder is 0700)."""
PROTOCOL = "jobcore-run/1"
MAX_REQUEST = 8 << 20
"""Larger than any argv and environment the kernel lets a process start with."""
NOT_TAKEN = ""
"""The reply's exit code when the dispatcher leaves the launch to the client."""


def build() -> str:
    """Which jobcore and Python this process runs: only the same code takes a launch."""
    return f"{jobcore.__version__} {os.path.dirname(jobcore.__file__)} {sys.version}"


def pack(fields: Iterable[str]) -> bytes:
    return b"\0".join(os.fsencode(field) for field in fields)


def unpack(data: bytes, count: int = -1) -> list[str]:
    """The fields of ``data`` (at most ``count`` + 1: the last keeps any NUL after it)."""
    return [os.fsdecode(field) for field in data.split(b"\0", count)]


class Request:
    """A ``jobcore run`` line handed over, with the folder and environment it was typed in."""

    __slots__ = ("argv", "cwd", "env", "token")

    def __init__(self, token: str, cwd: str, argv: list[str], env: dict[str, str]) -> None:
        self.token = token
        """Names the job this request makes, so a client whose dispatcher died mid-request
        launches it itself without making it twice."""
        self.cwd = cwd
        self.argv = argv
        self.env = env

    def pack(self) -> bytes:
        variables = (f"{name}={value}" for name, value in self.env.items())
        head = (PROTOCOL, build(), self.token, self.cwd, str(len(self.argv)))
        return pack((*head, *self.argv, *variables))

    @classmethod
    def unpack(cls, data: bytes) -> Request | None:
        """The request in ``data``; None for one of another protocol, build or shape."""
        fields = unpack(data)
        if len(fields) < 5 or fields[0] != PROTOCOL or fields[1] != build():
            return None
        token, cwd, count = fields[2], fields[3], fields[4]
        if not (count.isascii() and count.isdigit() and len(count) < 8) or not os.path.isabs(cwd):
            return None
        end = 5 + int(count)
        if len(fields) < end:
            return None
        env: dict[str, str] = {}
        for variable in fields[end:]:
            name, equals, value = variable.partition("=")
            if not (name and equals):
                return None
            env[name] = value
        return cls(token, cwd, fields[5:end], env)
