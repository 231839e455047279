"""Throttled progress writes: many updates in memory, a few database writes per second.

A loop of a million fast items must pay almost nothing, and many jobs reporting at once must
never queue behind each other's writes; so updates are merged in memory and written at most
every ``interval`` seconds, plus always the final state on ``close``. A write the database
cannot take right now (locked by another process, a full disk) is not waited for: the update
stays merged in memory and is tried again after the store's backoff, so the caller (a
worker copying a command's output) is never held up for long; ``close`` waits as the
store's patience says (a worker: until the database can be written).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from jobcore.base import current_item
from jobcore.base.errors import JobcoreError
from jobcore.base.progress_parse import ProgressUpdate
from jobcore.state.paths import ENV_HOME, ENV_JOB_ID, StateDir
from jobcore.state.store import Store

DEFAULT_INTERVAL_S = 0.25


class Reporter:
    """Merges progress updates for one job (or one of its batch items) and writes them to
    the store, throttled."""

    def __init__(
        self,
        store: Store,
        job_id: str,
        interval: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        shown: Callable[[str], str] | None = None,
        item_idx: int | None = None,
    ) -> None:
        self.store = store
        self.shown = shown
        """Masks the current item's text before it is stored (it is shown to people)."""
        self.job_id = job_id
        self.item_idx = item_idx
        """Inside a batch item: its index. Its progress is then the item's own (beside the
        item), and the batch's counts stay the batch's."""
        self.interval = interval
        self.clock = clock
        self.writes = 0
        """Database writes made so far (what the throttle is judged by)."""
        self._last_write = float("-inf")
        self._clear()

    def _clear(self) -> None:
        self._done: int | None = None
        self._advance = 0
        self._total: int | None = None
        self._item: str | None = None
        self._errors = 0
        self._dirty = False

    def update(self, change: ProgressUpdate) -> None:
        if change.done is not None:
            self._done, self._advance = change.done, 0
        self._advance += change.advance
        if change.total is not None:
            self._total = change.total
        if change.item is not None:
            self._item = change.item
        if change.error is not None:
            self._errors += 1
        self._dirty = True
        self.flush()

    def flush(self, force: bool = False) -> None:
        """Write pending changes if the interval has passed (or ``force``)."""
        if not self._dirty:
            return
        now = self.clock()
        if force:
            self.store.patience.call(self._write)
        elif now - self._last_write < self.interval or not self.store.patience.attempt(
            self._write_briefly
        ):
            return
        self.writes += 1
        self._last_write = now
        self._clear()

    def _write(self) -> None:
        if self.item_idx is not None:
            self.store.record_item_progress(
                self.job_id,
                self.item_idx,
                done=self._done,
                advance=self._advance,
                total=self._total,
                note=self._item
                if self._item is None or self.shown is None
                else self.shown(self._item),
            )
            return
        self.store.record_progress(
            self.job_id,
            done=self._done,
            advance=self._advance,
            total=self._total,
            item=self._item if self._item is None or self.shown is None else self.shown(self._item),
            errors=self._errors,
        )

    def _write_briefly(self) -> None:
        with self.store.briefly():
            self._write()

    def close(self) -> None:
        self.flush(force=True)


def for_current_job(interval: float = DEFAULT_INTERVAL_S) -> Reporter | None:
    """A Reporter for the job this process runs in (``JOBCORE_JOB_ID``/``JOBCORE_HOME``,
    set by the worker), or None outside a job; inside a batch item, for that item
    (``jobcore.base.current_item``). Close its ``store`` when done."""
    job_id, home = os.environ.get(ENV_JOB_ID), os.environ.get(ENV_HOME)
    if not job_id or not home:
        return None
    from jobcore.base.redact import mask_text
    from jobcore.state.launch_env import redactor_for

    state = StateDir(Path(home).absolute())
    store = Store(state)
    try:
        shown = redactor_for(state, store.get(job_id)).text
    except JobcoreError:  # no such job (any more): its writes will say so
        shown = mask_text
    return Reporter(store, job_id, interval=interval, shown=shown, item_idx=current_item.index())
