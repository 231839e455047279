"""Messages the background watcher and pollers post to the app."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class StateChanged(Message):
    """Something in the state folder changed: a hint to re-read, never data itself.

    A burst of commits collapses into one pending message (``can_replace``), so a dashboard fed
    by many jobs re-reads once per burst, not once per commit.
    """

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StateChanged)


@dataclass
class WatchUnavailable(Message):
    """File watching could not start or stopped: the app falls back to polling."""

    reason: str
    """Why, in a few words (shown in the subtitle)."""
