"""The clocks: wall time for people, a clock that never jumps for durations.

A duration that must hold across processes is a ``Stamp``: ``CLOCK_BOOTTIME`` seconds plus the
boot id, so a step of the wall clock moves none (docs/decisions/0009-boot-clock-for-durations.md).
Tests replace ``wall`` and ``since_boot`` here, the one seam for time.
"""

from __future__ import annotations

import time
from functools import cache
from typing import NamedTuple

_BOOTTIME = getattr(time, "CLOCK_BOOTTIME", None)


def wall() -> float:
    """Seconds since the epoch: for times shown to people (and only those)."""
    return time.time()


def since_boot() -> float:
    """Seconds on this boot's clock, the same in every process; never steps."""
    return time.clock_gettime(_BOOTTIME) if _BOOTTIME is not None else time.monotonic()


@cache
def boot_id() -> str:
    """This boot's id ('' where unknown): a boot-clock reading means nothing in another boot."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            return fh.read().strip()
    except OSError:
        return ""


class Stamp(NamedTuple):
    """A moment that another process can measure a duration from."""

    boot: str
    """The boot id; '' means ``t`` is wall-clock time (no boot clock here)."""
    t: float


def now() -> Stamp:
    """This moment, on the boot clock where there is one."""
    boot = boot_id()
    if boot and _BOOTTIME is not None:
        return Stamp(boot, since_boot())
    return Stamp("", wall())


def elapsed(since: Stamp, until: Stamp | None = None) -> float | None:
    """Seconds from ``since`` to ``until`` (default: now); None across a reboot."""
    until = now() if until is None else until
    if since.boot != until.boot:
        return None
    return until.t - since.t
