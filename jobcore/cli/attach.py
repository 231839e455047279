"""``jobcore attach``: a job's log tail and a live progress line in the terminal.

New log lines scroll above a status line that is redrawn in place (on a terminal), or
printed only when it changes (in a pipe). On a terminal, the output's colours show and its
other escape sequences are dropped (``jobcore.view.screen_text``). It ends when the job ends, also
when its worker died; Ctrl-C detaches and leaves the job running.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from jobcore.cli.follow import poll
from jobcore.ops.reconcile import reconcile
from jobcore.state.logs import Follower, tail
from jobcore.state.models import Job, JobStatus
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from jobcore.view import fmt
from jobcore.view.screen_text import screen_text

if TYPE_CHECKING:
    from jobcore.state.items import ItemRecord

TICK_S = 0.2
BAR_WIDTH = 24


ITEMS_SHOWN = 3
"""Running items whose own progress the status line shows (it must stay one line)."""


def status_line(job: Job, now: float, color: bool, items: Sequence[ItemRecord] = ()) -> str:
    """``[#####.....] 12/50 (24%)  3.2/s  ETA 12s  running  item``; for a batch, its running
    ``items`` with their own progress instead of the current item."""
    if job.total:
        filled = int(BAR_WIDTH * min(job.done, job.total) / job.total)
        gauge = "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "] "
    else:
        gauge = ""
    status = fmt.paint(job.status.value, fmt.STATUS_COLORS[job.status], color)
    eta = fmt.eta(job, None)
    parts = [
        gauge + fmt.progress(job.done, job.total),
        fmt.rate(job.rate) if job.status is JobStatus.RUNNING else fmt.UNKNOWN,
        fmt.UNKNOWN if eta == fmt.UNKNOWN else f"ETA {eta}",
        _elapsed(job, now),
        status,
        job.reason or _items_now(items) or job.current_item or fmt.UNKNOWN,
    ]
    return "  ".join(p for p in parts if p and p != fmt.UNKNOWN)


def _items_now(items: Sequence[ItemRecord]) -> str:
    """``part-A 45/100 (45%) | part-B 3/10 (30%)``: the first few running items."""
    from jobcore.state.items import shown as printable

    shown = [
        f"{printable(record.item)[:40]} {fmt.progress(record.progress_done, record.progress_total)}"
        if record.progress_done is not None
        else printable(record.item)[:40]
        for record in items[:ITEMS_SHOWN]
    ]
    more = len(items) - ITEMS_SHOWN
    return " | ".join(shown) + (f" (+{more})" if more > 0 else "")


def _elapsed(job: Job, now: float) -> str:
    """This run's time (since its latest start or resume), and the whole time if longer."""
    leg, total = job.leg_elapsed(now), job.elapsed(now)
    if leg is None:
        return fmt.UNKNOWN
    text = f"elapsed {fmt.duration(leg)}"
    if total is not None and fmt.duration(total) != fmt.duration(leg):
        text += f" ({fmt.duration(total)} in all)"
    return text


def _long_enough(state: StateDir, job: Job) -> bool:
    """Whether the job ran long enough (config ``notify_after``) to deserve a bell."""
    from jobcore.base.errors import JobcoreError
    from jobcore.state import config

    try:
        threshold = config.load(state)["notify_after"]
    except JobcoreError:
        return False
    elapsed = job.elapsed(time.time())
    return threshold is not None and elapsed is not None and elapsed >= threshold


def _running_items(state: StateDir, store: Store, job: Job) -> list[ItemRecord]:
    """A batch's running items as shown (masked as its log is)."""
    from jobcore.state.items import running
    from jobcore.state.launch_env import redactor_for

    records = running(store, job.id)
    if not records:
        return []
    redact = redactor_for(state, job)
    return [record.shown(redact) for record in records]


def attach(state: StateDir, store: Store, job: Job, out: TextIO = sys.stdout) -> JobStatus:
    """Show the job until it ends; returns its final status (raises KeyboardInterrupt)."""
    live = out.isatty()
    color = fmt.use_color(out)
    path = state.log_path(job.id)
    pending, offset = tail(path, 20)
    follower = Follower(path, offset)
    shown = ""

    def step() -> JobStatus | None:
        """New lines printed above the status line redrawn; the final status once it ends."""
        nonlocal pending, shown
        pending += follower.read_new()
        now = store.get(job.id)
        finished = not now.status.is_active
        if finished:
            while chunk := follower.read_new():
                pending += chunk
            complete, pending = pending.rstrip(b"\n"), b""
        else:
            complete, _, pending = pending.rpartition(b"\n")
        items = _running_items(state, store, now) if now.is_batch and not finished else []
        line = status_line(now, time.time(), color, items)
        text = complete.decode("utf-8", "replace")
        if live:  # only colours of the output act on the terminal, and of the status line
            text, line = screen_text(text), screen_text(line)
        if complete:
            out.write((fmt.ERASE_LINE if live else "") + text + "\n")
        if live and (complete or line != shown):
            out.write(fmt.ERASE_LINE + line + ("\n" if finished else ""))
        elif not live and line != shown:
            out.write(line + "\n")
        shown = line
        out.flush()
        if not finished:
            return None
        if live and _long_enough(state, now):
            out.write("\a")  # ring the terminal bell: the long job is over
            out.flush()
        return now.status

    reconcile(store)
    return poll(step, lambda: reconcile(store), TICK_S)
