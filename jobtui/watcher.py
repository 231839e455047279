"""Turn file events in the state folder into "state changed" hints.

A commit in WAL mode touches only ``jobcore.db-wal`` (the db file changes at checkpoints), so the
folder is watched and filtered to the database, its WAL and the job logs. Events are hints to
re-query, never data: the app's slow poll covers whatever a watcher misses (NFS, FSEvents).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

from watchfiles import Change, awatch

from jobcore.state.paths import DB_NAME, LIVE_NAME, LOG_NAME

DEBOUNCE_MS = 200
LIVE_STEP_MS = 10
"""While jobs are active: a lone commit shows in ~20 ms, not ~80
(docs/decisions/0019-dashboard-wakes-on-wal-events.md)."""
CALM_STEP_MS = 100
"""While nothing is active: each step wakes watchfiles' thread, so it steps slowly
(docs/decisions/0019-dashboard-wakes-on-wal-events.md)."""
RUST_TIMEOUT_MS = 5000
"""How long the watch thread may block before it hands control back (stops come by event)."""

WATCHED_NAMES = frozenset({DB_NAME, f"{DB_NAME}-wal", LOG_NAME, LIVE_NAME})


class ChangeSource(Protocol):
    """What the app needs from a watcher; tests inject one that fails to force polling."""

    def changes(self) -> AsyncIterator[None]:
        """Yield once per burst of changes; raise OSError if watching cannot start."""
        ...

    def pace(self, live: bool) -> None:
        """Report quickly (jobs are active) or cheaply (nothing is)."""
        ...

    def stop(self) -> None:
        """Make ``changes`` end soon (called when the app closes)."""
        ...


def is_state_file(change: Change, path: str) -> bool:
    """Only the database, its WAL and job logs matter (not ``-shm``, records or temp files)."""
    return Path(path).name in WATCHED_NAMES


class StateWatcher:
    """Watches one state folder with inotify (or the platform's equivalent) via watchfiles."""

    def __init__(self, root: Path) -> None:
        self.root = root
        """The state folder."""
        self.step_ms = CALM_STEP_MS
        """watchfiles' step for the current watch (changed through ``pace``)."""
        self._closed = False
        self._run_stop = asyncio.Event()

    async def changes(self) -> AsyncIterator[None]:
        while not self._closed:
            self._run_stop = asyncio.Event()
            async for _ in awatch(
                self.root,
                watch_filter=is_state_file,
                debounce=DEBOUNCE_MS,
                step=self.step_ms,
                rust_timeout=RUST_TIMEOUT_MS,
                stop_event=self._run_stop,
                recursive=True,
            ):
                yield None
            if not self._closed:
                yield None  # a change during the switch would be missed: look once more

    def pace(self, live: bool) -> None:
        step = LIVE_STEP_MS if live else CALM_STEP_MS
        if step != self.step_ms:
            self.step_ms = step
            self._run_stop.set()  # the watch ends and starts again with the new step

    def stop(self) -> None:
        self._closed = True
        self._run_stop.set()
