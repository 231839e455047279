"""How long a background loop that failed waits before it tries again.

The dashboard's poll and refresh loop are rescheduled after an error as well as after a
success (one exception must not end them for good), but a lasting fault (a locked or broken
database) must not be retried in a tight loop either: the wait doubles up to a cap.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    """Consecutive failures of one loop and the wait before its next attempt."""

    first_s: float
    """The wait after the first failure."""
    max_s: float
    """The longest wait, however often it failed."""
    failures: int = 0
    """Failures since the last success."""
    error: str = ""
    """The last failure, as one line."""

    def failed(self, exc: BaseException) -> float:
        """Count a failure; returns how long to wait before the next attempt."""
        self.failures += 1
        self.error = " ".join(f"{type(exc).__name__}: {exc}".split())
        return min(self.max_s, self.first_s * 2 ** (self.failures - 1))

    def succeeded(self) -> bool:
        """Start afresh; True if the loop was failing until now."""
        was_failing = self.failures > 0
        self.failures, self.error = 0, ""
        return was_failing
