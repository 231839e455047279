"""Rows made as a test needs them, written straight to the table.

Production code changes a job's status, worker, claim or stop request only through
``jobcore.state.transitions`` (``Store.update`` refuses them); a test that needs a job in a
given state without living through it writes the row directly, here.
"""

from __future__ import annotations

from typing import Any

from jobcore.state.models import ProcessIdentity
from jobcore.state.store import Store


def set_row(
    store: Store, job_id: str, *, worker: ProcessIdentity | None = None, **fields: Any
) -> None:
    """Set any columns of one job (``worker``: its identity's three columns)."""
    if worker is not None:
        fields.update(worker_pid=worker.pid, worker_start=worker.start, boot_id=worker.boot_id)
    cols = ", ".join(f"{key} = ?" for key in fields)
    with store.write() as conn:
        conn.execute(f"UPDATE jobs SET {cols} WHERE id = ?", [*fields.values(), job_id])
