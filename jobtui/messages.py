"""Messages the background watcher posts to the app."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class WatchUnavailable(Message):
    """File watching could not start or stopped: the app falls back to polling."""

    reason: str
    """Why, in a few words (shown in the subtitle)."""
