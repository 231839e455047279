"""Whether this process may start a job's worker as a fork of itself, not a new interpreter.

A fork saves the worker a whole interpreter start and its imports, but it copies only the
calling thread and everything the process holds. So only processes that say they are safe
(the ``jobcore`` command, which holds nothing but its closed database connection by then; a
dispatcher) fork, and only while they have a single thread. A library caller (a user's script
calling ``jobcore.submit``) and the dashboard, which has threads, spawn ``python -m
jobcore.worker``. So does a launch from inside a job: ``/proc/PID/environ`` of a fork still
shows its launcher's environment, with that job's marker, and the worker would pass for one of
that job's processes (``stop`` of the job would take it down).
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
