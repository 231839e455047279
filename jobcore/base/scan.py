"""Find the first of several needles in a chunk of output, at memory speed.

Each needle is searched on its own, only in chunks holding a byte every match of it has, and
again only once the reader is past its match: an ``a|b|c`` regex crawls, memchr flies
(docs/decisions/0010-output-by-the-chunk.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

_RARE_FIRST = b"zqxjkvbpygfwmucldrhsnioate"
"""Letters from the rarest to the most common in English text (and so in most logs)."""


class Needle(NamedTuple):
    """A pattern led by a literal, and one byte every match contains."""

    pattern: re.Pattern[bytes]
    required: bytes


def needle(pattern: bytes, required: bytes | None = None) -> Needle:
    """A needle; ``required`` defaults to the rarest byte of the pattern's leading literal
    (give it for a pattern that starts with an escape)."""
    if required is None:
        literal = re.match(rb"[^\\\[\](){}.*+?|^$]*", pattern)
        lead = literal.group() if literal else b""
        if not lead:
            raise ValueError(f"needle {pattern!r} needs a required byte")
        lower = lead.lower()
        symbols = [b for b in lower if not chr(b).isalnum()]
        ranked = symbols or sorted(lower, key=lambda b: _rank(b))
        required = bytes([ranked[0]])
    return Needle(re.compile(pattern), required)


def _rank(byte: int) -> int:
    index = _RARE_FIRST.find(bytes([byte]))
    return len(_RARE_FIRST) if index < 0 else index


def needles(alternatives: str) -> tuple[Needle, ...]:
    """The alternatives of a ``|``-separated pattern, one needle each."""
    return tuple(needle(part.encode()) for part in alternatives.split("|"))


class FirstOf:
    """The earliest match of any needle in ``data[:end]`` at or after a position."""

    __slots__ = ("data", "end", "hits", "needles")

    def __init__(self, needles: Sequence[Needle], data: bytes, end: int | None = None) -> None:
        self.data = data
        self.end = len(data) if end is None else end
        self.needles = [n for n in needles if data.find(n.required, 0, self.end) >= 0]
        """Only the needles that can match at all in this chunk."""
        self.hits = [-2] * len(self.needles)
        """Where each needle matched next: -1 nowhere, -2 not searched yet."""

    def at(self, pos: int) -> int:
        """Start of the first match at or after ``pos``, or -1."""
        first = -1
        data, end, hits = self.data, self.end, self.hits
        for k, (pattern, _) in enumerate(self.needles):
            hit = hits[k]
            if hit == -2 or -1 < hit < pos:
                match = pattern.search(data, pos, end)
                hit = hits[k] = -1 if match is None else match.start()
            if hit >= 0 and (first < 0 or hit < first):
                first = hit
        return first
