"""Messages the background work posts to the app."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.message import Message

from jobtui.usage import Usage


@dataclass
class WatchUnavailable(Message):
    """File watching could not start or stopped: the app falls back to polling."""

    reason: str
    """Why, in a few words (shown in the subtitle)."""


@dataclass
class UsageMeasured(Message):
    """The poll measured CPU and memory (and found whether liveness changed any job)."""

    usage: Mapping[str, Usage]
    changed: bool
    """A job's status changed (a dead worker was found): the data must be re-read."""

    def can_replace(self, message: Message) -> bool:
        # A newer measure replaces an older one, but never drops an older "re-read".
        return isinstance(message, UsageMeasured) and (self.changed or not message.changed)
