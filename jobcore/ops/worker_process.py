"""The worker's program: the worker of ``jobcore.worker`` with what follows a job's end.

``python -m jobcore.worker STATE_DIR JOB_ID CLAIM [SLOT_FD]`` runs :func:`main`. Starting the
next waiting job and the retention policy are operations (they launch workers and delete
jobs), so they are handed to the worker from here instead of being imported by it.
"""

from __future__ import annotations

import sys

from jobcore.ops.dispatch import AFTER_JOB
from jobcore.worker.worker import serve


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (3, 4) or not all(a.isdigit() for a in args[3:]):
        print("usage: python -m jobcore.worker STATE_DIR JOB_ID CLAIM [SLOT_FD]", file=sys.stderr)
        return 2
    slot_fd = int(args[3]) if len(args) == 4 else None
    return serve(args[0], args[1], args[2], slot_fd, follow_ups=AFTER_JOB)
