"""Recognise progress in a command's output: tqdm bars and jobcore's marker lines.

Marker lines (kept out of the log; print them from any language)::

    ::progress 12/50 item-name    done 12 of 50, now working on item-name
    ::progress 12 item-name       done 12, total unchanged (or unknown)
    ::progress +1 item-name       one more done
    ::total 50                    the total (may grow later)
    ::item item-name              what is being worked on
    ::error item-name: message    one item failed (counted in errors)

A marker starts its line: an indented ``::progress`` is output (a log quoting one, a
heredoc), not a marker.

tqdm bars are read as tqdm prints them, with or without a description and a total, including
``unit_scale`` numbers such as ``1.5k/10.0k``. Nested bars (``tqdm(..., leave=False)`` inside
another) are drawn below the outer one: tqdm moves down a line, draws, and moves back up
with ``ESC[A``. The job follows the outermost bar (position 0); a bar drawn lower is what
the current item is doing, reported as the current item's text (``batch: 45/100``), so the
job's count does not reset with every epoch.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from jobcore.base.scan import needle

MAX_COUNT = 2**63 - 1
"""Counts beyond SQLite's INTEGER range are not progress (and would crash the store)."""
_SI = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_NUM = r"\d+(?:\.\d+)?[kMGTP]?"

_MARKER = re.compile(r"^::(?P<verb>progress|total|item|error)(?:[ \t]+(?P<rest>.*))?$")
_PROGRESS_ARGS = re.compile(r"^(?P<sign>\+)?(?P<n>\d+)(?:/(?P<total>\d+))?(?:[ \t]+(?P<item>.*))?$")
_ASCII_INT = re.compile(r"[0-9]+")
_TQDM_TOTAL = re.compile(
    rf"^(?:(?P<desc>.*?):\s*)?(?P<pct>\d{{1,3}})%\|[^|]*\|\s*(?P<n>{_NUM})/(?P<total>{_NUM})"
    r"\s*(?:[a-zA-Z/]*\s*)?\["
)
_TQDM_NO_TOTAL = re.compile(rf"^(?:(?P<desc>.*?):\s*)?(?P<n>{_NUM})[a-zA-Z/]*\s\[\d+:\d\d")
_CURSOR_UP = re.compile(r"(?:\x1b\[(\d*)A)+$")
"""Cursor-up moves at the end of a bar: tqdm's way back from a bar drawn lower down."""


WANTED = (needle(rb"::"), needle(rb"%\|", b"|"), needle(rb"\[\d+:\d\d", b"["))
"""What every line ``parse_line`` may read as progress contains (a marker's ``::``, a tqdm
bar's ``%|`` or ``[00:12``): the log writer passes other lines through in bulk, unparsed."""


class ProgressUpdate(NamedTuple):
    """One observed change; None fields mean "unchanged". (Not a dataclass: importing
    dataclasses costs a worker's start ~10 ms of inspect and ast.)"""

    done: int | None = None
    advance: int = 0
    total: int | None = None
    item: str | None = None
    error: str | None = None
    is_marker: bool = False


def _si(text: str) -> int | None:
    suffix = text[-1] if text[-1] in _SI else ""
    number = text[:-1] if suffix else text
    value = float(number) * _SI[suffix]
    return round(value) if value <= MAX_COUNT else None


def parse_marker(line: str) -> ProgressUpdate | None:
    match = _MARKER.match(line.rstrip())
    if not match:
        return None
    verb, rest = match["verb"], (match["rest"] or "").strip()
    if verb == "progress":
        args = _PROGRESS_ARGS.match(rest)
        if not args:
            return None
        n = int(args["n"])
        total = int(args["total"]) if args["total"] else None
        if n > MAX_COUNT or (total is not None and total > MAX_COUNT):
            return None
        if total is not None and not args["sign"]:
            total = max(total, n)  # "12/5": the total grew (as the store treats it)
        item = args["item"] or None
        if args["sign"]:
            return ProgressUpdate(advance=n, total=total, item=item, is_marker=True)
        return ProgressUpdate(done=n, total=total, item=item, is_marker=True)
    if verb == "total":
        if not _ASCII_INT.fullmatch(rest) or int(rest) > MAX_COUNT:
            return None  # "²".isdigit() is True, but int("²") raises
        return ProgressUpdate(total=int(rest), is_marker=True)
    if verb == "item":
        return ProgressUpdate(item=rest or None, is_marker=True)
    return ProgressUpdate(error=rest or "error", is_marker=True)


def bar_position(line: str) -> int:
    """How many lines below the cursor's line a bar was drawn (tqdm's ``position``)."""
    moves = _CURSOR_UP.search(line.rstrip(" "))
    if moves is None:
        return 0
    return sum(int(n or 1) for n in re.findall(r"\x1b\[(\d*)A", moves[0]))


def parse_tqdm(line: str, row: int = 0) -> ProgressUpdate | None:
    """A tqdm bar's update: the job's count for the outermost bar, the current item's text
    for a nested one (``row``: the row of a redrawn block the line was written on, as the
    LogWriter saw it; else the cursor-up moves that end the line tell)."""
    position = max(row, bar_position(line) if "\x1b[" in line else 0)
    change = _parse_bar(_CURSOR_UP.sub("", line.rstrip(" ")) if position else line)
    if change is None or position == 0:
        return change
    return ProgressUpdate(item=nested_label(change.item, change.done, change.total))


def nested_label(desc: str | None, done: int | None, total: int | None) -> str:
    """A nested bar as the current item's text: ``batch: 45/100`` (or ``45``, no total)."""
    count = f"{done or 0}" if total is None else f"{done or 0}/{total}"
    return f"{desc}: {count}" if desc else count


def _parse_bar(line: str) -> ProgressUpdate | None:
    text = line.strip()
    match = _TQDM_TOTAL.match(text)
    if match:
        total, n = _si(match["total"]), _si(match["n"])
        if total is None or n is None:
            return None
        done = min(n, total)
        return ProgressUpdate(done=done, total=total, item=(match["desc"] or None))
    match = _TQDM_NO_TOTAL.match(text)
    if match:
        n = _si(match["n"])
        return None if n is None else ProgressUpdate(done=n, item=(match["desc"] or None))
    return None


def parse_line(raw: bytes, row: int = 0) -> ProgressUpdate | None:
    """A progress update from one line of output, or None if the line is just output
    (``row``: see ``parse_tqdm``)."""
    if len(raw) > 4096:
        return None
    line = raw.decode("utf-8", "replace")
    return parse_marker(line) or parse_tqdm(line, row)
