"""Which batch item the code running now works for: progress reported there is the item's.

A command item learns it from ``JOBCORE_ITEM`` (the worker puts the item's index in the
item's environment). A ``--call`` function learns it from the thread it runs on: the call
runner sets it around each call, in a thread pool and in pool processes alike (a process's
environment is shared by all its threads, so it cannot say which call is which).
"""

from __future__ import annotations

import os
import threading

ENV_ITEM = "JOBCORE_ITEM"
"""The index of the batch item a command runs for (set by the worker for each item)."""

_calls = threading.local()


def index() -> int | None:
    """The index of the item this code works for, or None outside a batch item."""
    idx = getattr(_calls, "idx", None)
    if idx is not None:
        return int(idx)
    text = os.environ.get(ENV_ITEM, "")
    return int(text) if text.isascii() and text.isdigit() else None


def set_index(idx: int | None) -> None:
    """Say which item the calling thread works for now (None: none)."""
    _calls.idx = idx
