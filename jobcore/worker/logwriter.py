"""Turn a command's raw output into a log a person can read, and feed lines to parsers.

Output is handled by the chunk, not by the line: one search over a chunk finds the lines that
need a look of their own (a rewrite with ``\\r`` or a cursor-up, a line the parser wants such
as ``::progress``, an over-long line); everything before such a line is masked in one pass
and written with one ``write``. The partial last line of a chunk waits for its newline.

A line rewritten in place with ``\\r`` (a tqdm bar, a download counter) is kept in memory and
written only as a snapshot every ``SNAPSHOT_INTERVAL_S`` and in its final state, so an
hour-long bar leaves a few hundred lines, not hundreds of thousands. Cursor-up redraws
(``ESC[A``, ``ESC[3A``, ``ESC[F``: nested tqdm bars, docker's layer list) are rewrites too:
the rows a command moves back up into form a *block*, snapshotted at the same pace and
written in their final state once the output moves below the block. A partial line with no
newline yet is written when the command goes quiet (``idle``), so prompts and slow output
still appear promptly. The state of a rewritten line (or block) between snapshots goes to a
``LiveLine`` when one is given, for live views. Within each line it keeps, the log holds the
bytes the command wrote (escape sequences included); screens filter them
(``jobcore.view.screen_text``).
"""

from __future__ import annotations

import errno
import os
import re
import time
from collections.abc import Callable, Sequence

from jobcore.base.scan import FirstOf, Needle, needle
from jobcore.state.live_line import LiveLine

SNAPSHOT_INTERVAL_S = 10.0
MAX_LINE = 64 * 1024
MAX_BLOCK_ROWS = 100
"""A redraw block taller than this is cut: a cursor-up never holds back more of the log."""

_UP = rb"\x1b\[([0-9]*)[AF]"
_SPLIT = re.compile(rb"(\r\n|\n|\r|" + _UP + rb")")
"""Slow-path tokens: line ends, carriage returns, cursor-up (its count captured)."""
_INCOMPLETE = re.compile(rb"(?:\r|\x1b(?:\[[0-9]{0,8})?)\Z")
"""A chunk ending in what may be the first half of ``\\r\\n`` or of a cursor-up."""
_REWRITES = (needle(rb"\r(?!\n)", b"\r"), needle(_UP, b"\x1b"))

LineHandler = Callable[[bytes], bool]
"""Called with a complete line or rewrite segment; returns True to keep it out of the log."""


class LogWriter:
    """Writes a command's output to an open log file descriptor, line-aware, chunk by chunk."""

    def __init__(
        self,
        fd: int,
        on_line: LineHandler | None = None,
        clock: Callable[[], float] = time.monotonic,
        prefix: bytes = b"",
        redact: Callable[[bytes], bytes] | None = None,
        live: LiveLine | None = None,
        wants: Sequence[Needle] | None = None,
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
        self._finders = (*_REWRITES, *(wants or ()))
        """Find what the fast path cannot pass through: a rewrite, or a line ``on_line``
        wants to see (``wants``; a line with a match goes to ``on_line``, a false alarm
        costs only time)."""
        self._every_line = on_line is not None and wants is None
        """A handler that did not say what it wants sees every line."""
        self.last_line = b""
        """The last line (or rewrite segment) with something on it that the log kept (not a
        marker): what a failed command or item last said."""
        self.row = 0
        """Row in the redraw block of the segment being handled (0: the top one, or none)."""
        self._line = bytearray()
        self._flushed = 0
        """Bytes of the current line already on disk (partial-line writes on idle)."""
        self._rewritten = False
        """The current line has been rewritten with \\r: only snapshots reach the disk."""
        self._last_segment = b""
        self._last_snapshot = 0.0
        self._rows: list[bytes] | None = None
        """The redraw block (rows a cursor-up moved back into), or None outside one."""
        self._carry = b""
        """The end of the last chunk that may be the first half of a ``\\r\\n`` or an escape."""
        self._out: list[bytes] = []
        """Lines ready for the disk, written (masked and prefixed) once per chunk."""
        self.lost = 0
        """Bytes of output that could not be written (disk full) since the last write."""

    # -- input ------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if not data:
            return
        if self._carry:
            data, self._carry = self._carry + data, b""
        held = _INCOMPLETE.search(data, max(0, len(data) - 11))
        if held is not None:
            self._carry = data[held.start() :]
            data = data[: held.start()]
        self._take(data)
        self._show_live()
        self._flush()

    def idle(self) -> None:
        """The command is quiet: show a pending partial line (not a rewrite)."""
        self._take_carried_cr()
        if self.live is not None:
            self.live.flush()
        if (
            not self.prefix
            and not self._rewritten
            and self._rows is None
            and len(self._line) > self._flushed
        ):
            self._out.append(bytes(self._line[self._flushed :]))
            self._flushed = len(self._line)
        self._flush()

    def close(self) -> None:
        """End of output: write whatever the last line was."""
        self._take_carried_cr()
        if self._carry:  # an escape cut short by the end of output is just bytes
            self._tokens(self._carry)
            self._carry = b""
        if self._rows is not None:
            self._end_block()
        elif self._line or self._rewritten:
            self._end_line()
        self._flush()

    def _take_carried_cr(self) -> None:
        if self._carry == b"\r":
            self._carry = b""
            self._tokens(b"\r")
            self._show_live()

    # -- the fast path: whole plain lines in bulk ---------------------------------------------

    def _take(self, data: bytes) -> None:
        pos, size = 0, len(data)
        last = data.rfind(b"\n") + 1
        """End of the last complete line: what follows waits for its newline."""
        finders = FirstOf(self._finders, data, last)
        while pos < size:
            if self._line or self._rewritten or self._rows is not None or pos >= last:
                end = data.find(b"\n", pos) + 1 or size  # finish the current line first
                self._tokens(data[pos:end])
                pos = end
                continue
            hit = pos if self._every_line else finders.at(pos)
            found = last if hit < 0 else hit
            stop = last if found == last else data.rfind(b"\n", pos, found) + 1
            stop = self._before_long_line(data, pos, stop)
            if stop > pos:
                self._bulk(data[pos:stop])
                pos = stop
                continue
            end = data.find(b"\n", pos) + 1  # one line: rewritten, wanted or over-long
            self._tokens(data[pos:end])
            pos = end

    @staticmethod
    def _before_long_line(data: bytes, pos: int, stop: int) -> int:
        """``stop``, or the start of the first line longer than MAX_LINE before it."""
        while stop - pos > MAX_LINE:
            newline = data.rfind(b"\n", pos, pos + MAX_LINE + 1)
            if newline < 0:
                return pos
            pos = newline + 1
        return stop

    def _bulk(self, lines: bytes) -> None:
        """Complete plain lines, none a rewrite or wanted by the handler: straight out."""
        if b"\r" in lines:
            lines = lines.replace(b"\r\n", b"\n")
        self._out.append(lines)
        end = len(lines) - 1
        last = lines[lines.rfind(b"\n", 0, end) + 1 : end]
        if not last.strip():  # rare: look further back, past the blank lines
            content = lines.rstrip()
            last = content[content.rfind(b"\n") + 1 :]
        if last:
            self.last_line = last

    # -- the slow path: token by token ------------------------------------------------------

    def _tokens(self, data: bytes) -> None:
        tokens = _SPLIT.split(data)
        for i in range(0, len(tokens), 3):
            text = tokens[i]
            if text:
                self._line += text
                while len(self._line) > MAX_LINE:  # split at MAX_LINE, whatever the chunks
                    rest = self._line[MAX_LINE:]
                    del self._line[MAX_LINE:]
                    self._line_end()
                    self._line = bytearray(rest)
            if i + 1 >= len(tokens):
                break
            token, count = tokens[i + 1], tokens[i + 2]
            if count is not None:
                self._cursor_up(int(count or 1))
            elif token == b"\r":
                self._carriage_return()
            else:
                self._line_end()

    def _handled(self, segment: bytes) -> bool:
        """Whether ``on_line`` keeps the segment out of the log (a marker); a kept one with
        something on it is the newest ``last_line``."""
        kept_out = bool(self.on_line and segment and self.on_line(segment))
        if segment.strip() and not kept_out:
            self.last_line = segment
        return kept_out

    def _line_end(self) -> None:
        if self._rows is not None:
            self._block_newline()
        else:
            self._end_line()

    def _end_line(self) -> None:
        segment = bytes(self._line)
        consumed = self._handled(segment)
        if self._rewritten:
            final = segment or self._last_segment
            if final.strip():
                self._out.append(final + b"\n")
            if self.live is not None:
                self.live.clear()
        elif not consumed or self._flushed:
            self._out.append(segment[self._flushed :] + b"\n")
        self._reset(rewritten=False)

    def _carriage_return(self) -> None:
        segment = bytes(self._line)
        if self._rows is not None:
            self._handled(segment)
            self._set_row(segment)
            self._line = bytearray()
            self._snapshot_block()
            return
        self._handled(segment)
        now = self.clock()
        if not self._rewritten:
            if self._flushed:
                self._out.append(segment[self._flushed :] + b"\n")
            self._last_snapshot = now
        elif segment.strip() and now - self._last_snapshot >= SNAPSHOT_INTERVAL_S:
            self._out.append(segment + b"\n")
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

    # -- redraw blocks (cursor-up) ----------------------------------------------------------

    def _cursor_up(self, count: int) -> None:
        """The command moves back up ``count`` rows to redraw them: a block of rows begins
        (or grows upwards); rows already in the log stay there, their redraws are snapshots."""
        segment = bytes(self._line)
        if self._rows is None:
            # The line being drawn becomes the bottom row; the rows above were logged.
            current = segment or self._last_segment
            self._rows = [b""] * min(count, MAX_BLOCK_ROWS) + [current]
            self.row = len(self._rows) - 1
            self._handled(segment)
            if self._flushed and not self._rewritten:
                self._rows[-1] = b""  # already on disk as a partial line
                self._out.append(b"\n")
            self._reset(rewritten=False)
            self._last_snapshot = self.clock()
        else:
            self._handled(segment)
            self._set_row(segment)
            self._line = bytearray()
            self._snapshot_block()
        self.row -= count
        if self.row < 0:
            grow = min(-self.row, MAX_BLOCK_ROWS - len(self._rows))
            self._rows[:0] = [b""] * max(0, grow)
            self.row = 0

    def _set_row(self, segment: bytes) -> None:
        if segment:
            assert self._rows is not None
            self._rows[self.row] = segment

    def _block_newline(self) -> None:
        """Down one row: still inside the block, or below it, which ends the block."""
        assert self._rows is not None
        segment = bytes(self._line)
        self._handled(segment)
        self._set_row(segment)
        self._line = bytearray()
        self.row += 1
        if self.row >= len(self._rows):
            self._end_block()
        else:
            self._snapshot_block()

    def _block_text(self) -> list[bytes]:
        assert self._rows is not None
        rows = list(self._rows)
        if self._line and self.row < len(rows):
            rows[self.row] = bytes(self._line)
        return [row for row in rows if row.strip()]

    def _snapshot_block(self) -> None:
        now = self.clock()
        if now - self._last_snapshot >= SNAPSHOT_INTERVAL_S:
            self._out.extend(row + b"\n" for row in self._block_text())
            self._last_snapshot = now

    def _end_block(self) -> None:
        self._out.extend(row + b"\n" for row in self._block_text())
        self._rows = None
        self.row = 0
        if self.live is not None:
            self.live.clear()
        self._reset(rewritten=False)

    # -- output -----------------------------------------------------------------------------

    def _show_live(self) -> None:
        if self.live is None:
            return
        if self._rows is not None:
            rows = self._block_text()
            if rows:
                self.live.show(self.prefix + b"  ".join(self._masked(r) for r in rows))
        elif self._rewritten and self._line.strip():
            self.live.show(self.prefix + self._masked(bytes(self._line)))

    def _masked(self, data: bytes) -> bytes:
        return data if self.redact is None else self.redact(data)

    def _flush(self) -> None:
        """Write the lines gathered from a chunk: masked in one pass, prefixed, one write."""
        if not self._out:
            return
        data = self._out[0] if len(self._out) == 1 else b"".join(self._out)
        self._out = []
        data = self._masked(data)
        if self.prefix:
            data = self.prefix + data.replace(b"\n", b"\n" + self.prefix)
            if data.endswith(b"\n" + self.prefix):
                data = data[: -len(self.prefix)]
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
