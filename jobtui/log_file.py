"""A job's log read lazily from its end: line offsets found backwards, lines read on demand.

No Textual here (as toolong's ``log_file.py``). Opening reads only the last block or two, so a
gigabyte log opens as fast as a small one; scrolling back indexes one more stretch at a time;
new output is indexed from the last known end (``poll``); a file that shrank was truncated and
is read afresh. Search scans raw bytes in blocks from a line, forwards or backwards, and only
then indexes back to the match, so the cost is the distance travelled, not the file's size.

With ``only`` (a batch item's prefixes, ``jobcore.state.logs.item_prefix``) the index holds
that item's lines alone, found by one regular expression per block going back until the
screen is full; only complete lines count, as a line still being written may not yet show
its whole prefix.

The methods that read (``scan_back``, ``scan_forward``, ``search``) return data instead of
changing the index, so they can run in a thread while the UI draws from the current index;
``prepend`` and ``append`` apply what they found, on the UI thread.
"""

from __future__ import annotations

import os
import re
from array import array
from bisect import bisect_right
from pathlib import Path

from jobcore.state.paths import open_private

BLOCK = 64 * 1024
"""Bytes read at a time going backwards."""
SEARCH_BLOCK = 1024 * 1024
"""Bytes scanned at a time by a search."""
SCAN_LIMIT = 4 * 1024 * 1024
"""Bytes one step back reads at most: a log of one endless line (``yes | tr -d '\\n'``)
costs this much per step, and its cut-off piece shows as a line of its own."""
MAX_LINE = 16 * 1024
"""Bytes of one line that are drawn; the rest of a longer line is cut."""


class LogFile:
    """An index of line starts over the end part of a file, grown on demand."""

    def __init__(self, path: Path, only: tuple[bytes, ...] = ()) -> None:
        self.path = path
        """The log."""
        self.only = only
        """Index only the lines that start with one of these (an item's); every line if none."""
        self._starting = re.compile(b"\n(?:" + b"|".join(map(re.escape, only)) + b")")
        self._prefix_len = max(map(len, only), default=0)
        self.starts = array("q")
        """Byte offsets of the indexed lines' starts, ascending."""
        self.top = 0
        """Everything from here to ``end`` is indexed (0: the whole file)."""
        self.end = 0
        """The file's size when last looked at."""
        self._fd: int | None = None

    def open(self) -> None:
        """Open the file (refusing a symlink) and index nothing yet."""
        self.close()
        self._fd = open_private(self.path, os.O_RDONLY)
        self.starts = array("q")
        self.end = self.top = os.fstat(self._fd).st_size
        if self.only:
            self.end = self.top = self._line_start(self.end)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def fd(self) -> int:
        if self._fd is None:
            raise RuntimeError("LogFile.open() was not called")
        return self._fd

    @property
    def complete(self) -> bool:
        """Every line of the file is indexed."""
        return self.top == 0

    def __len__(self) -> int:
        return len(self.starts)

    # -- reading (safe in a thread) -------------------------------------------------------------

    def scan_back(self, lines: int, down_to: int | None = None) -> tuple[array[int], int]:
        """Line starts before ``top``: at least ``lines`` of them (or down to byte ``down_to``),
        and the new top. Does not change the index."""
        if self.only:
            return self._scan_back_only(lines, down_to)
        found = array("q")
        pos = top = self.top
        while pos > 0 and (len(found) < lines or (down_to is not None and top > down_to)):
            step = min(BLOCK, pos)
            pos -= step
            block = os.pread(self.fd, step, pos)
            for match in reversed([m.start() for m in re.finditer(b"\n", block)]):
                start = pos + match + 1
                if start < top:
                    found.append(start)
                    top = start
            if top - pos >= SCAN_LIMIT and pos > 0:  # no line end for a long way: cut here
                found.append(pos)
                top = pos
                if down_to is None:
                    break
        if pos == 0 and top > 0:
            found.append(0)
            top = 0
        found.reverse()
        return found, top

    def scan_forward(self) -> tuple[array[int], int, bool]:
        """Line starts appended since the last look, the new size, and whether the file
        shrank (truncated: open it again). Does not change the index."""
        size = os.fstat(self.fd).st_size
        if size < self.end:
            return array("q"), size, True
        if self.only:
            return self._scan_forward_only(size)
        found = array("q")
        if size == self.end:
            return found, size, False
        if self.end and (not self.starts or self.end > self.starts[-1]):
            if os.pread(self.fd, 1, self.end - 1) == b"\n":
                found.append(self.end)  # the old last line was complete: a new one starts
        elif self.end == 0:
            found.append(0)
        pos = self.end
        while pos < size:
            block = os.pread(self.fd, min(SEARCH_BLOCK, size - pos), pos)
            found.extend(pos + m.start() + 1 for m in re.finditer(b"\n", block))
            pos += len(block)
        while found and found[-1] >= size:
            found.pop()
        return found, size, False

    def line(self, index: int) -> str:
        """Line ``index`` of the index as text (no line ending), at most ``MAX_LINE`` bytes."""
        start = self.starts[index]
        stop = self.starts[index + 1] if index + 1 < len(self.starts) else self.end
        data = os.pread(self.fd, MAX_LINE if self.only else min(stop - start, MAX_LINE), start)
        return data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", errors="replace")

    def search(self, needle: str, from_offset: int, forward: bool) -> int | None:
        """The byte offset of the next match of ``needle`` (any case) after (or before)
        ``from_offset``, anywhere in the file (with ``only``: the start of the next indexed
        kind of line that has it); None when there is none."""
        while True:
            found = self._search(needle, from_offset, forward)
            if found is None or not self.only:
                return found
            start = self._line_start(found)
            if os.pread(self.fd, self._prefix_len, start).startswith(self.only):
                return start
            from_offset = found + 1 if forward else start

    def _search(self, needle: str, from_offset: int, forward: bool) -> int | None:
        pattern = re.compile(re.escape(needle.encode()), re.IGNORECASE)
        overlap = max(0, len(needle.encode()) - 1)
        size = self.end
        if forward:
            pos = from_offset
            while pos < size:
                block = os.pread(self.fd, min(SEARCH_BLOCK, size - pos), pos)
                match = pattern.search(block)
                if match:
                    return pos + match.start()
                if pos + len(block) >= size:
                    return None
                pos += max(1, len(block) - overlap)
            return None
        stop = from_offset
        while stop > 0:
            pos = max(0, stop - SEARCH_BLOCK)
            block = os.pread(self.fd, stop - pos, pos)
            last = None
            for match in pattern.finditer(block):
                last = match
            if last is not None:
                return pos + last.start()
            stop = pos + overlap if pos else 0
        return None

    def _line_start(self, offset: int) -> int:
        """Where the line that holds byte ``offset`` starts (``offset`` itself just after a
        line end: the file's size gives the end of its last complete line)."""
        pos = offset
        while pos > 0:
            low = max(0, pos - BLOCK)
            found = os.pread(self.fd, pos - low, low).rfind(b"\n")
            if found >= 0:
                return low + found + 1
            pos = low
        return 0

    def _scan_back_only(self, lines: int, down_to: int | None) -> tuple[array[int], int]:
        """``scan_back`` of the lines that start with an ``only`` prefix: each line end
        before ``top - 1`` followed by one is a start (the block is read on by a prefix's
        length, so a prefix cut by the block's end still matches)."""
        found: list[int] = []
        top = self.top
        below = max(0, top - 1)  # line ends before here start lines before top
        while below > 0 and (len(found) < lines or (down_to is not None and top > down_to)):
            pos = max(0, below - SEARCH_BLOCK)
            block = os.pread(self.fd, below - pos + self._prefix_len, pos)
            ends = [m.start() for m in self._starting.finditer(block) if m.start() < below - pos]
            found.extend(pos + end + 1 for end in reversed(ends))
            below, top = pos, pos + 1
        if below == 0 and top > 0:
            if os.pread(self.fd, self._prefix_len, 0).startswith(self.only):
                found.append(0)
            top = 0
        found.reverse()
        return array("q", found), top

    def _scan_forward_only(self, size: int) -> tuple[array[int], int, bool]:
        """``scan_forward`` of the lines that start with an ``only`` prefix, complete lines
        only: the end returned is the end of the last one, where the next look starts."""
        found = array("q")
        pos = end = self.end
        while pos < size:
            length = min(SEARCH_BLOCK, size - pos)
            block = os.pread(self.fd, length + self._prefix_len, pos)
            last = block.rfind(b"\n", 0, length)
            if last >= 0:  # the line at ``end`` is complete now
                if os.pread(self.fd, self._prefix_len, end).startswith(self.only):
                    found.append(end)
                ends = [m.start() for m in self._starting.finditer(block) if m.start() < last]
                found.extend(pos + line_end + 1 for line_end in ends)
                end = pos + last + 1
            pos += length
        return found, end, False

    # -- changing the index (the UI thread) -----------------------------------------------------

    def prepend(self, starts: array[int], top: int) -> int:
        """Put lines found by ``scan_back`` in front; returns how many came."""
        self.starts = starts + self.starts
        self.top = top
        return len(starts)

    def append(self, starts: array[int], size: int) -> int:
        """Put lines found by ``scan_forward`` at the end; returns how many came."""
        self.starts.extend(starts)
        self.end = size
        return len(starts)

    def line_of(self, offset: int) -> int:
        """The index of the line that holds byte ``offset`` (which must be indexed)."""
        return max(0, bisect_right(self.starts, offset) - 1)
