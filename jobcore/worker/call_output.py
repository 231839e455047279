"""A ``--call`` batch's output: what its functions print, each line under its item's prefix.

Calls share one process (threads) or a few (a process pool), so they share file descriptors:
there is no pipe per item to read, as there is for command items. Instead ``sys.stdout`` and
``sys.stderr`` become a ``PrefixedOutput`` that knows, from the thread writing, which item
it writes for (``working_on``), and writes each complete line as ``[item] line`` with one
``os.write`` (so lines of parallel calls interleave whole). ``print``, ``logging`` handlers
made after the swap and tracebacks go through it; a subprocess a call starts writes to the
descriptors itself, unprefixed.
"""

from __future__ import annotations

import errno
import io
import os
import sys
import threading
from collections.abc import Callable

from jobcore.base import current_item

_here = threading.local()


def working_on(idx: int | None, prefix: str) -> None:
    """Say which item the calling thread works for (``idx`` None: none any more)."""
    current_item.set_index(idx)
    _here.prefix = prefix.encode("utf-8", "surrogateescape") if idx is not None else b""


class PrefixedOutput(io.TextIOBase):
    """A text stream writing each line to ``fd`` under the prefix of the writing thread's
    item; a partial line waits for its newline (or the item's end, ``flush``)."""

    def __init__(self, fd: int, redact: Callable[[bytes], bytes] | None = None) -> None:
        self.fd = fd
        self.redact = redact
        """Masks credentials in each line, as a command item's output is masked."""
        self._partial: dict[int, bytes] = {}
        """Each thread's line so far (threads write concurrently)."""

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        data = self._partial.pop(threading.get_ident(), b"") + text.encode(
            "utf-8", "surrogateescape"
        )
        head, newline, rest = data.rpartition(b"\n")
        if newline:
            self._emit(head.split(b"\n"))
        if rest:
            self._partial[threading.get_ident()] = rest
        return len(text)

    def flush(self) -> None:
        """Write the calling thread's partial line (its item ended, or it asked)."""
        rest = self._partial.pop(threading.get_ident(), b"")
        if rest:
            self._emit([rest])

    def _emit(self, lines: list[bytes]) -> None:
        prefix = getattr(_here, "prefix", b"")
        out = b"".join(prefix + (self.redact(ln) if self.redact else ln) + b"\n" for ln in lines)
        view = memoryview(out)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EPIPE):
                raise  # a full disk must not fail the item: its output is lost, not its work


def install(redact: Callable[[bytes], bytes] | None = None) -> None:
    """Make this process's ``sys.stdout``/``sys.stderr`` prefix their lines by item."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    sys.stdout = PrefixedOutput(1, redact)
    sys.stderr = PrefixedOutput(2, redact)
