"""Make a command's output safe to put on a screen: colours stay, every other control goes.

A job's log keeps the bytes its command wrote, escape sequences included (``logs --raw``
prints them as they are). Printed on a terminal or drawn in the dashboard, those bytes would
act on the screen: ``ESC[2J`` clears it, ``ESC]0;title BEL`` renames the window or tmux pane,
cursor movement scrambles what is around. So whatever reaches a screen goes through
``screen_text``: SGR sequences (``ESC[...m``: colours, bold) are kept, every other CSI, OSC,
DCS and lone escape is dropped, and so is every C0 and C1 control character but ``\\t``
and ``\\n``.
"""

from __future__ import annotations

import re

_NOT_FOR_SCREENS = re.compile(
    r"\x1b\[(?![0-9;:]*m)[0-?]*[ -/]*[@-~]"  # CSI other than SGR: cursor, erase, modes
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window title, hyperlink, clipboard
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-Z\\-~]"  # other escapes: ESC c (reset), ESC M, ESC ( B
    r"|\x1b(?!\[[0-9;:]*m)"  # an escape that starts nothing complete
    r"|[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f-\x9f]"  # C0 but \t \n (and ESC, above), DEL, C1
)
_SGR = re.compile(r"\x1b\[[0-9;:]*m")
_SGR_SPLIT = re.compile(r"(\x1b\[[0-9;:]*m)")
_UNFINISHED = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*)?\Z")


def screen_text(text: str) -> str:
    """``text`` with colours kept and every other control sequence or character removed."""
    if "\x1b" not in text and text.isprintable():
        return text  # most lines: nothing to look for
    return _NOT_FOR_SCREENS.sub("", text)


def plain_text(text: str) -> str:
    """``text`` with every control sequence removed, colours too (widths, plain displays)."""
    return _SGR.sub("", screen_text(text))


def fit(text: str, width: int) -> str:
    """Screen text cut to ``width`` characters that show, its colours kept (and reset after,
    so a cut never leaves the terminal red or half an escape sequence)."""
    pieces: list[str] = []
    left, coloured = width, False
    for piece in _SGR_SPLIT.split(text):
        if piece.startswith("\x1b["):
            pieces.append(piece)
            coloured = True
        elif left > 0:
            pieces.append(piece[:left])
            left -= len(pieces[-1])
    return "".join(pieces) + ("\x1b[0m" if coloured else "")


def split_unfinished(data: bytes) -> tuple[bytes, bytes]:
    """``data`` cut before an escape sequence it ends in the middle of, and that start: a
    reader following a log holds it until the rest is read (else ``ESC[3`` and ``1m`` would
    each be shown as text)."""
    cut = _UNFINISHED.search(data, max(0, len(data) - 256))
    return (data, b"") if cut is None else (data[: cut.start()], data[cut.start() :])
