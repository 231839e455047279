"""Durations and clock times typed by people: ``90s``, ``10m``, ``1h30m``, ``7d``, ``14:30``."""

from __future__ import annotations

import re
import time

from jobcore.base.errors import UsageError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_WHOLE = re.compile(r"^(?:\s*\d+(?:\.\d+)?\s*[smhdw])+\s*$")


def parse_duration(text: str) -> float:
    """Seconds in ``text``: a number of seconds, or parts like ``1h30m``; errors are usage."""
    value = text.strip().lower()
    try:
        seconds = float(value)
    except ValueError:
        if not _WHOLE.match(value):
            raise UsageError(f"cannot read duration {text!r} (try 90s, 10m, 1h30m, 7d)") from None
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(value))
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise UsageError(f"cannot read duration {text!r} (it must be >= 0)")
    return seconds


def parse_clock(text: str, now: float | None = None) -> float:
    """The next time it is ``HH:MM`` (today, else tomorrow), as epoch seconds."""
    from datetime import datetime, timedelta

    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise UsageError(f"cannot read time {text!r} (expected HH:MM, e.g. 14:30)")
    current = datetime.fromtimestamp(time.time() if now is None else now)
    target = current.replace(hour=int(match[1]), minute=int(match[2]), second=0, microsecond=0)
    if target <= current:
        target += timedelta(days=1)
    return target.timestamp()
