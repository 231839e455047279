"""Turn a command's raw output into a log a person can read, and feed lines to parsers.

Complete lines go to disk as they come. A line rewritten in place with ``\\r`` (a tqdm bar, a
download counter) is kept in memory and written only as a snapshot every
``SNAPSHOT_INTERVAL_S`` and in its final state, so an hour-long bar leaves a few hundred lines,
not hundreds of thousands. A partial line with no newline yet is written when the command
goes quiet (``idle``), so prompts and slow output still appear promptly. The state of a
rewritten line between snapshots goes to a ``LiveLine`` when one is given, for live views.
"""

from __future__ import annotations

import errno
import os
import re
import time
from collections.abc import Callable

from jobcore.live_line import LiveLine

SNAPSHOT_INTERVAL_S = 10.0
MAX_LINE = 64 * 1024
_SPLIT = re.compile(rb"(\r\n|\n|\r)")

LineHandler = Callable[[bytes], bool]
"""Called with each complete line or ``\\r`` segment; returns True to keep it out of the log."""


class LogWriter:
    """Writes a command's output to an open log file descriptor, line-aware."""

    def __init__(
        self,
        fd: int,
        on_line: LineHandler | None = None,
        clock: Callable[[], float] = time.monotonic,
        prefix: bytes = b"",
        redact: Callable[[bytes], bytes] | None = None,
        live: LiveLine | None = None,
    ) -> None:
        self.fd = fd
        self.live = live
        self.on_line = on_line
        self.clock = clock
        self.redact = redact
        """Masks credentials in each piece of output before it is written."""
        self.prefix = prefix
        """Put before every line (a batch item's name), so lines of parallel items interleave
        readably; with a prefix, partial lines wait for their newline."""
        self._line = bytearray()
        self._flushed = 0
        """Bytes of the current line already on disk (partial-line writes on idle)."""
        self._rewritten = False
        """The current line has been rewritten with \\r: only snapshots reach the disk."""
        self._last_segment = b""
        self._last_snapshot = 0.0
        self.lost = 0
        """Bytes of output that could not be written (disk full) since the last write."""
        self._pending_cr = False
        """The last chunk ended with \\r: it may be the first half of a \\r\\n."""

    def feed(self, data: bytes) -> None:
        if not data:
            return
        if self._pending_cr:
            self._pending_cr = False
            data = b"\r" + data
        if data.endswith(b"\r"):
            self._pending_cr = True
            data = data[:-1]
        for token in _SPLIT.split(data):
            if token in (b"\n", b"\r\n"):
                self._end_line()
            elif token == b"\r":
                self._carriage_return()
            elif token:
                self._line += token
                while len(self._line) > MAX_LINE:  # split at MAX_LINE, whatever the chunks
                    rest = self._line[MAX_LINE:]
                    del self._line[MAX_LINE:]
                    self._end_line()
                    self._line = rest
        if self.live is not None and self._rewritten and self._line.strip():
            self.live.show(self._shown(bytes(self._line)))

    def _take_pending_cr(self) -> None:
        if self._pending_cr:
            self._pending_cr = False
            self._carriage_return()

    def idle(self) -> None:
        """The command is quiet: show a pending partial line (not a \\r bar)."""
        self._take_pending_cr()
        if self.live is not None:
            self.live.flush()
        if not self.prefix and not self._rewritten and len(self._line) > self._flushed:
            self._write(bytes(self._line[self._flushed :]))
            self._flushed = len(self._line)

    def close(self) -> None:
        """End of output: write whatever the last line was."""
        self._take_pending_cr()
        if self._line or self._rewritten:
            self._end_line()

    def _handled(self, segment: bytes) -> bool:
        return bool(self.on_line and segment and self.on_line(segment))

    def _end_line(self) -> None:
        segment = bytes(self._line)
        consumed = self._handled(segment)
        if self._rewritten:
            final = segment or self._last_segment
            if final.strip():
                self._write(final + b"\n")
            if self.live is not None:
                self.live.clear()
        elif not consumed or self._flushed:
            self._write(segment[self._flushed :] + b"\n")
        self._reset(rewritten=False)

    def _carriage_return(self) -> None:
        segment = bytes(self._line)
        self._handled(segment)
        now = self.clock()
        if not self._rewritten:
            if self._flushed:
                self._write(segment[self._flushed :] + b"\n")
            self._last_snapshot = now
        elif segment.strip() and now - self._last_snapshot >= SNAPSHOT_INTERVAL_S:
            self._write(segment + b"\n")
            self._last_snapshot = now
        if segment.strip():
            self._last_segment = segment
        self._reset(rewritten=True)

    def _reset(self, rewritten: bool) -> None:
        self._line = bytearray()
        self._flushed = 0
        self._rewritten = rewritten
        if not rewritten:
            self._last_segment = b""

    def _shown(self, data: bytes) -> bytes:
        """Output as a reader may see it: credentials masked, the item's prefix put before."""
        if self.redact is not None:
            data = self.redact(data)
        return self.prefix + data

    def _write(self, data: bytes) -> None:
        data = self._shown(data)
        note = (
            f"jobcore: {self.lost} bytes of output lost: the disk was full\n" if self.lost else ""
        )
        try:
            self._write_all(note.encode() + data)
        except OSError as exc:
            # A full disk must not kill the job: its output is counted, not written, and a
            # line says how much was lost once there is room again.
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            self.lost += len(data)
        else:
            self.lost = 0

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
