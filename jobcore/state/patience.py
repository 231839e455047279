"""The retry policy for a database that cannot be written right now (locked, busy, full).

A process holding the write lock (a frozen worker, a ``sqlite3`` shell left in a
transaction, a swapping machine) or a full disk must never cost a job its life: a job's
command does not need the database this second. So a worker's store waits: each write is
retried with a backoff doubling up to ``MAX_PAUSE_S``, for as long as it takes, and the job
log says once when the database has been unavailable for a while and once when it is back.
Writes that are only shown (progress) are not waited for at all: they are kept, merged with
later ones, and tried again after the backoff (``attempt``), so the output keeps flowing.

A user's command keeps failing fast (``Patience()``, the default of every store): it says
so in one line instead of hanging for as long as someone else holds the lock.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from jobcore.base.errors import StoreUnavailable

T = TypeVar("T")

FIRST_PAUSE_S = 0.05
MAX_PAUSE_S = 2.0
"""The longest pause between two tries: a database back is used within this."""
_TRANSIENT = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR}


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is unusable only for now (locked, busy, full, I/O)."""
    if isinstance(exc, StoreUnavailable):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return (
        isinstance(exc, sqlite3.OperationalError)
        and code is not None
        and code & 0xFF in (_TRANSIENT)
    )


class Patience:
    """How writes meet an unavailable database: fail at once, or wait it out (``forever``)."""

    def __init__(
        self,
        forever: bool = False,
        note: Callable[[str], None] | None = None,
        note_after_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.forever = forever
        self.note = note
        """Where the two lines about an outage go (the job log)."""
        self.note_after_s = note_after_s
        """How long the database must have been unavailable before it is worth a line."""
        self.clock = clock
        self.sleep = sleep
        self.down_since: float | None = None
        """When the current outage began (None: the last write went through)."""
        self._pause = FIRST_PAUSE_S
        self._next_try = float("-inf")
        self._noted = False

    def call(self, write: Callable[[], T]) -> T:
        """``write()``, retried after each failure if ``forever``; else its error propagates."""
        while True:
            try:
                result = write()
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                self.failed(exc)
                if not self.forever:
                    raise
                self.sleep(max(0.0, self._next_try - self.clock()))
                continue
            self.succeeded()
            return result

    def attempt(self, write: Callable[[], object]) -> bool:
        """One try of ``write()`` unless the backoff says wait; whether it went through.

        For writes that may lag (progress): the caller keeps what it could not write and
        calls again later; nothing here blocks beyond the write's own short wait.
        """
        if not self.due():
            return False
        try:
            write()
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            self.failed(exc)
            return False
        self.succeeded()
        return True

    def due(self) -> bool:
        """Whether the backoff after the last failure is over."""
        return self.clock() >= self._next_try

    def wait_s(self) -> float:
        """Seconds until the next try is due (0 when it is)."""
        return max(0.0, self._next_try - self.clock())

    def failed(self, exc: BaseException) -> None:
        """A write failed for now: back off, and say so once the outage has lasted."""
        now = self.clock()
        if self.down_since is None:
            self.down_since, self._pause = now, FIRST_PAUSE_S
        else:
            self._pause = min(self._pause * 2, MAX_PAUSE_S)
        self._next_try = now + self._pause
        if not self._noted and now - self.down_since >= self.note_after_s and self.note:
            self._noted = True
            self.note(
                f"jobcore: database unavailable ({_reason(exc)}); the job runs on and its "
                "state is written once the database can be written again"
            )

    def succeeded(self) -> None:
        """A write went through: the outage (if any) is over."""
        if self.down_since is not None and self._noted and self.note:
            self.note(
                f"jobcore: database writable again after {self.clock() - self.down_since:.1f}s"
            )
        self.down_since, self._noted = None, False
        self._next_try = float("-inf")


def _reason(exc: BaseException) -> str:
    text = str(exc.__cause__ or exc)
    return text.split(": ")[-1] if ": " in text else text
