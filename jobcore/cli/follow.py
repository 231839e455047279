"""Watching until something ends: the one poll loop of ``logs -f``, ``wait`` and ``attach``,
and ``logs -f``'s printing of what a job appends to its log."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from jobcore.cli.output import write_text
from jobcore.view import fmt

if TYPE_CHECKING:
    from pathlib import Path

    from jobcore.state.logs import Follower
    from jobcore.state.store import Store

T = TypeVar("T")


def poll(step: Callable[[], T | None], refresh: Callable[[], object], every: float) -> T:
    """``step`` until it returns a result, and that result; between tries, a sleep of
    ``every`` seconds, then ``refresh``: the liveness check that lets a job whose worker
    died end instead of being waited for forever. ``step`` first sees the state as it is."""
    while (result := step()) is None:
        time.sleep(every)
        refresh()
    return result


def follow_log(
    store: Store, job_id: str, follower: Follower, live: Path | None, raw: bool = False
) -> int:
    """Print what the job appends until it ends (0) or the user presses Ctrl-C (130).

    With ``live`` (on a terminal), the line the command is rewriting, a progress bar, stays
    drawn under the output as if the command ran in the foreground; the log itself only gets
    a snapshot of it every few seconds.
    """
    from jobcore.ops.reconcile import reconcile
    from jobcore.state.live_line import read_live
    from jobcore.view.screen_text import fit, screen_text, split_unfinished

    drawn: str | None = None
    held = b""
    """An escape sequence cut by the end of what was read: printed with the rest of it."""

    def erase() -> None:
        nonlocal drawn
        if drawn is not None:
            sys.stdout.write(fmt.ERASE_LINE)
            drawn = None

    def write(chunk: bytes) -> None:
        nonlocal held
        chunk, held = held + chunk, b""
        if not raw:
            chunk, held = split_unfinished(chunk)
        write_text(chunk, raw)

    def step() -> int | None:
        """What was appended printed; 0 once the job ended, else its live line redrawn."""
        nonlocal drawn
        while chunk := follower.read_new():
            erase()
            write(chunk)
        if not store.get(job_id).status.is_active:
            erase()
            while chunk := follower.read_new():
                write(chunk)
            write_text(held, raw)
            sys.stdout.flush()
            return 0
        line = read_live(live) if live is not None else None
        if line != drawn:
            erase()
            if line is not None:  # cut to the width: a wrapped line cannot be erased
                width = shutil.get_terminal_size().columns - 1
                sys.stdout.write(fit(screen_text(line), width))
            drawn = line
            sys.stdout.flush()
        return None

    try:
        reconcile(store)
        return poll(step, lambda: reconcile(store), 0.1)
    except KeyboardInterrupt:
        if drawn is not None:
            sys.stdout.write("\n")
        return 130
