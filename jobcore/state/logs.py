"""Read job logs from the end: the cost of the last N lines does not grow with the file.

``tail`` seeks backwards block by block until it has N newlines; ``Follower`` then reads
from a byte offset with ``os.pread`` and treats a file that shrank as truncated or rotated.
Bytes are returned as they are; decoding (with replacement of invalid UTF-8) is the caller's.
A log is a job's file: a symlink planted for it (or for its folder) is refused, never read.
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path

from jobcore.state.paths import open_private

BLOCK = 64 * 1024


def tail(path: Path, lines: int) -> tuple[bytes, int]:
    """The last ``lines`` lines of ``path`` and the file's size when read (the follow offset)."""
    try:
        fd = open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        return b"", 0
    try:
        size = os.fstat(fd).st_size
        if lines <= 0 or size == 0:
            return b"", size
        end = size
        # A final newline ends the last line; it does not start a new one.
        if os.pread(fd, 1, size - 1) == b"\n":
            end -= 1
        chunks: list[bytes] = []
        found = 0
        pos = end
        while pos > 0 and found < lines:
            step = min(BLOCK, pos)
            pos -= step
            block = os.pread(fd, step, pos)
            chunks.append(block)
            found += block.count(b"\n")
        data = b"".join(reversed(chunks))
        if found >= lines:
            cut = len(data)
            for _ in range(lines):
                cut = data.rindex(b"\n", 0, cut)
            data = data[cut + 1 :]
        return data + os.pread(fd, size - end, end), size
    finally:
        os.close(fd)


class Follower:
    """Reads what was appended to a log since the last call."""

    def __init__(self, path: Path, offset: int) -> None:
        self.path = path
        self.offset = offset

    def read_new(self, limit: int = 4 * BLOCK) -> bytes:
        """New bytes (at most ``limit``); restarts from 0 when the file was truncated."""
        try:
            fd = open_private(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return b""
        try:
            size = os.fstat(fd).st_size
            if size < self.offset:
                self.offset = 0
            if size == self.offset:
                return b""
            data = os.pread(fd, min(limit, size - self.offset), self.offset)
            if self.offset + len(data) < size:  # cut by the limit: end on a line, or a char
                data = data[: data.rfind(b"\n") + 1] or data[: _utf8_boundary(data)] or data
            self.offset += len(data)
            return data
        finally:
            os.close(fd)


_UTF8_LEADS = ((2, (0xE0, 0xC0)), (3, (0xF0, 0xE0)), (4, (0xF8, 0xF0)))
"""(sequence length, (mask, value)) of UTF-8 lead bytes."""


def _utf8_boundary(data: bytes) -> int:
    """Length of ``data`` without a UTF-8 sequence cut short at its end (readers decode each
    chunk on its own: a character split across two chunks would show as two U+FFFD)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # the last lead (or ASCII) byte
            need = next((n for n, lead in _UTF8_LEADS if byte & lead[0] == lead[1]), 1)
            return len(data) - back if need > back else len(data)
    return len(data)


PREFIX_MAX = 60


def item_prefix(item: str, idx: int, shown: str | None = None) -> str:
    """The prefix of a batch item's lines in the job log, unique to the item.

    ``[item] `` for an item that is short, holds no ``]`` and needs no masking (``shown``
    is the item as masked for people): no other item's prefix can start like it. Any other
    is shortened and tagged with its index, ``[https://host/…/part-A.c… #12] ``, so that
    ``logs --item`` finds exactly its lines and never a neighbour's with the same start.
    """
    text = item if shown is None else shown
    if len(text) <= PREFIX_MAX and "]" not in text and text == item:
        return f"[{text}] "
    tag = f" #{idx}"
    text = text.replace("]", ")")
    room = PREFIX_MAX - len(tag)
    if len(text) > room:
        text = text[: room - 1] + "…"
    return f"[{text}{tag}] "


def item_lines(path: Path, prefix: bytes | tuple[bytes, ...], limit: int) -> list[bytes]:
    """The last ``limit`` lines of one batch item (lines starting with ``prefix``, or with
    one of them: an item listed twice).

    Reads the log forward once: an item's lines are spread through the whole file.
    """
    found: deque[bytes] = deque(maxlen=max(0, limit))
    try:
        with os.fdopen(open_private(path, os.O_RDONLY), "rb") as fh:
            for line in fh:
                if line.startswith(prefix):
                    cut = len(prefix) if isinstance(prefix, bytes) else line.index(b"] ") + 2
                    found.append(line[cut:])
    except FileNotFoundError:
        return []
    return list(found)
