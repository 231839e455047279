"""Whether this process may start a job's worker as a fork of itself, not a new interpreter.

A fork saves a worker its interpreter start and imports, but copies only the calling thread
and all the process holds: only a process that declared itself safe, single-threaded and not
inside a job (its marker would show in the fork's ``/proc/PID/environ``) forks; others spawn
(docs/decisions/0004-fork-the-worker.md).
"""

from __future__ import annotations

import os
import sys

from jobcore.state.paths import ENV_JOB

_allowed = False


def allow() -> None:
    """Declare this process fork-safe: one thread, no connection or lock kept across a launch."""
    global _allowed
    _allowed = True


def safe() -> bool:
    """Whether a worker may be forked from here right now."""
    if not _allowed or ENV_JOB in os.environ:
        return False
    threading = sys.modules.get("threading")  # not imported: no thread was started through it
    return threading is None or threading.active_count() == 1
