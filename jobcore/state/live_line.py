"""The line a command is rewriting in place right now (a tqdm bar), kept beside its log.

The log receives a ``\\r``-rewritten line only as a snapshot every ``SNAPSHOT_INTERVAL_S`` (an
hour-long bar stays a few hundred lines), so a live view reading the log alone shows a bar up to
that old. The worker therefore keeps the latest state of such a line in ``<job>/live``: replaced
whole (a reader never sees half of it) at most every ``LIVE_INTERVAL_S``, removed once the line
is finished and written to the log. Readers show it after the log's last line while the job runs.
Its path is a job's file, ``<state>/jobs/<id>/live``: no symlink below ``<state>`` is followed.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from jobcore.base.errors import JobcoreError
from jobcore.state.atomic import write_bytes
from jobcore.state.paths import open_folder, open_private

LIVE_INTERVAL_S = 0.5
MAX_LIVE_BYTES = 4096
"""A live line longer than this is cut: it is one terminal line, not a log."""


class LiveLine:
    """Writes the current rewritten line of a job's output to its ``live`` file, throttled."""

    def __init__(
        self,
        path: Path,
        clock: Callable[[], float] = time.monotonic,
        interval: float = LIVE_INTERVAL_S,
    ) -> None:
        self.path = path
        self.clock = clock
        self.interval = interval
        self._pending: bytes | None = None
        """The newest line not yet on disk (it came within ``interval`` of the last write)."""
        self._written_at = float("-inf")
        self._on_disk = True
        self.clear()  # a line left by a worker that died belongs to no run

    def show(self, line: bytes) -> None:
        """The line now reads ``line``; written now or at the next chance after the interval."""
        self._pending = line[:MAX_LIVE_BYTES]
        if self.clock() - self._written_at >= self.interval:
            self.flush()

    def flush(self) -> None:
        """Write the newest line if it is not on disk yet (the command went quiet)."""
        if self._pending is None:
            return
        line, self._pending = self._pending, None
        try:
            write_bytes(self.path, line, durable=False, root=self.path.parents[2])
        except (OSError, JobcoreError):
            return  # a view's convenience: a full disk must cost the job nothing
        self._written_at = self.clock()
        self._on_disk = True

    def clear(self) -> None:
        """The line is finished (and in the log): nothing is being rewritten any more."""
        self._pending = None
        if self._on_disk:
            self._on_disk = False
            with contextlib.suppress(OSError, JobcoreError):
                dir_fd = open_folder(self.path.parent, self.path.parents[2])
                try:
                    os.unlink(self.path.name, dir_fd=dir_fd)
                finally:
                    os.close(dir_fd)


def read_live(path: Path) -> str | None:
    """The line being rewritten now, or None when there is none."""
    try:
        fd = open_private(path, os.O_RDONLY)
    except (OSError, JobcoreError):
        return None
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(MAX_LIVE_BYTES)
    return data.decode("utf-8", errors="replace") or None
