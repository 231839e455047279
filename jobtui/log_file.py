"""A job's log read lazily from its end: line offsets found backwards, lines read on demand.

No Textual here (as toolong's ``log_file.py``). Opening reads only the last block or two, so a
gigabyte log opens as fast as a small one; scrolling back indexes one more stretch at a time;
new output is indexed from the last known end (``poll``); a file that shrank was truncated and
is read afresh. Search scans raw bytes in blocks from a line, forwards or backwards, and only
then indexes back to the match, so the cost is the distance travelled, not the file's size.

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

    def __init__(self, path: Path) -> None:
        self.path = path
        """The log."""
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
        data = os.pread(self.fd, min(stop - start, MAX_LINE), start)
        return data.rstrip(b"\r\n").decode("utf-8", errors="replace")

    def search(self, needle: str, from_offset: int, forward: bool) -> int | None:
        """The byte offset of the next match of ``needle`` (any case) after (or before)
        ``from_offset``, anywhere in the file; None when there is none."""
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
