"""Writing to stdout: JSON for programs, log bytes as a terminal can show them."""

from __future__ import annotations

import json
import sys
from typing import Any


def emit_json(data: Any) -> None:
    """JSON on stdout: indented for a person at a terminal, one compact line for a program.

    json's C encoder only works without ``indent``: indenting 10,000 jobs took 0.5 s of an
    ``ls --json`` whose reader is almost always jq or a script. One write: json.dump to a
    stream makes a write call per token.
    """
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(data, indent=indent, ensure_ascii=False) + "\n")


def table_width() -> int | None:
    """The width a table is cut to: the terminal's, or none when stdout is not one."""
    if not sys.stdout.isatty():
        return None
    import shutil  # bz2 and lzma come with it: only for a terminal

    return shutil.get_terminal_size().columns


def write_text(data: bytes, raw: bool = False) -> None:
    """Log bytes to stdout; invalid UTF-8 is shown as U+FFFD rather than crashing.

    On a terminal only colours of the command's escape sequences act (a ``clear`` or a window
    title it printed does not); ``raw`` writes the bytes as they are in the log.
    """
    if raw:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    text = data.decode("utf-8", "replace")
    if sys.stdout.isatty():
        from jobcore.view.screen_text import screen_text

        text = screen_text(text)
    sys.stdout.write(text)
    sys.stdout.flush()
