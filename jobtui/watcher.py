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

from jobcore.paths import DB_NAME, LOG_NAME

DEBOUNCE_MS = 200
STEP_MS = 10
"""Small step: a lone commit is reported in ~20 ms instead of ~80 ms (FIELD-NOTES)."""
RUST_TIMEOUT_MS = 500
"""How long the watch thread may block before it checks the stop event again."""

WATCHED_NAMES = frozenset({DB_NAME, f"{DB_NAME}-wal", LOG_NAME})


class ChangeSource(Protocol):
    """What the app needs from a watcher; tests inject one that fails to force polling."""

    def changes(self) -> AsyncIterator[None]:
        """Yield once per burst of changes; raise OSError if watching cannot start."""
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
        self._stop = asyncio.Event()

    async def changes(self) -> AsyncIterator[None]:
        async for _ in awatch(
            self.root,
            watch_filter=is_state_file,
            debounce=DEBOUNCE_MS,
            step=STEP_MS,
            rust_timeout=RUST_TIMEOUT_MS,
            stop_event=self._stop,
            recursive=True,
        ):
            yield None

    def stop(self) -> None:
        self._stop.set()
