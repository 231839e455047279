"""Rate and ETA from (time, done) samples: pure arithmetic, tested with a fake clock.

The rate is measured over the last ``WINDOW_S`` seconds, not since the start, so it follows a
change of speed within a few seconds. When the window holds a single sample (slow items), the
newest sample before the window is used instead, so one item per minute still has a rate.
"""

from __future__ import annotations

from collections.abc import Sequence

WINDOW_S = 5.0


def rate_from_samples(samples: Sequence[tuple[float, int]], now: float) -> float | None:
    """Items per second over the recent window; None while it cannot be known yet.

    ``samples`` are (time, done) pairs, oldest first, the latest being the current state.
    """
    if len(samples) < 2:
        return None
    t_last, done_last = samples[-1]
    start = max(t_last, now) - WINDOW_S
    base = samples[0]
    for sample in samples[:-1]:
        if sample[0] <= start:
            base = sample  # newest sample at or before the window's start
        else:
            break
    span = t_last - base[0]
    if span <= 0:
        return None
    return max(0.0, (done_last - base[1]) / span)


def eta_seconds(done: int, total: int | None, rate: float | None) -> float | None:
    """Seconds left at the current rate; None when total or rate is unknown.

    Nothing left (done >= total, e.g. a total of 0) is 0 seconds whatever the rate.
    """
    if total is None:
        return None
    left = total - done
    if left <= 0:
        return 0.0
    if rate is None or rate <= 0:
        return None
    return left / rate
