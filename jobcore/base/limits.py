"""The ranges of the numbers people give: checked where they come in, one line when outside.

A number past these was never meant (a typo, ``1e300``, ``inf``, ``nan``). Accepted, each broke
later and far away: ``--delay 1e300`` broke ``ls`` for every job, a priority past 64 bits was an
"internal error" of SQLite, ``--backoff inf`` a batch that never retried, ``grace inf`` a stop
that never ended.
"""

from __future__ import annotations

from typing import TypeVar

from jobcore.base.errors import UsageError

N = TypeVar("N", int, float)

MAX_SECONDS = 10 * 365 * 86400
"""Delays, waits, graces, backoffs and ages: up to ten years."""
MAX_PARALLEL = 10_000
MAX_PRIORITY = 2**31 - 1
MAX_COUNT = 2**31 - 1
"""Retries, lines, jobs to keep."""


def in_range(flag: str, value: N, low: N, high: N) -> N:
    """``value`` if ``low <= value <= high`` (NaN never is); else a usage error naming ``flag``."""
    if not low <= value <= high:
        raise UsageError(f"{flag} expects a number from {low} to {high}, got {value!r}")
    return value


def seconds(flag: str, value: float) -> float:
    """A duration in seconds: from 0 to ten years (NaN and infinity refused)."""
    if not 0 <= value <= MAX_SECONDS:
        raise UsageError(f"{flag} expects seconds from 0 up to ten years, got {value!r}")
    return value


def check_batch(parallel: int | None, retries: int | None, backoff: float | None) -> None:
    """The numbers of a batch (``run --each`` or ``jobcore.submit``); None is the default."""
    if parallel is not None:
        in_range("-j/--parallel", parallel, 1, MAX_PARALLEL)
    if retries is not None:
        in_range("--retries", retries, 0, MAX_COUNT)
    if backoff is not None:
        seconds("--backoff", backoff)
