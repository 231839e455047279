"""The worker's program: the worker of ``jobcore.worker`` wired to what follows a job's end.

``python -m jobcore.worker STATE_DIR JOB_ID CLAIM [SLOT_FD]`` runs :func:`main`; the launcher's
forked workers call :func:`serve` directly. Starting the next waiting job and the retention
policy are operations (they launch workers and delete jobs), so they are handed to the worker
from here instead of being imported by it.
"""

from __future__ import annotations

import sys

from jobcore.base.errors import JobcoreError
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from jobcore.worker import worker


class AfterJob:
    """The operations a worker runs once its job is recorded as ended."""

    def start_waiting(self, state: StateDir, store: Store) -> dict[str, JobcoreError]:
        from jobcore.ops import dispatch

        errors = dispatch.start_waiting(state, store)
        dispatch.wake(state, store)
        return errors

    def clean(self, state: StateDir, store: Store, keep: int) -> None:
        from jobcore.ops.housekeeping import clean

        clean(state, store, keep=keep, actor="worker")


def serve(root: str, job_id: str, claim: str, slot_fd: int | None, *, forked: bool = False) -> int:
    """Run the job as its worker, with the follow-ups of this layer."""
    return worker.serve(root, job_id, claim, slot_fd, forked=forked, follow_ups=AfterJob())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (3, 4) or not all(a.isdigit() for a in args[3:]):
        print("usage: python -m jobcore.worker STATE_DIR JOB_ID CLAIM [SLOT_FD]", file=sys.stderr)
        return 2
    slot_fd = int(args[3]) if len(args) == 4 else None
    return serve(args[0], args[1], args[2], slot_fd)
