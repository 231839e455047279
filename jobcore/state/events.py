"""A job's history: every state change with its time, actor and reason.

It answers "what happened to my job last night": created, started, paused (and why),
resumed, retried, completed, failed (and why), killed, cleaned — and by whom.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from jobcore.state.models import iso
from jobcore.state.store import Store


class Event(NamedTuple):
    job_id: str
    t: float
    kind: str
    actor: str
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "time": iso(self.t),
            "kind": self.kind,
            "actor": self.actor,
            "reason": self.reason,
        }


def history(store: Store, job_id: str | None = None, limit: int = 1000) -> list[Event]:
    """Events of one job (oldest first) or of all jobs (the newest ``limit``, oldest first)."""
    if job_id is not None:
        rows = store.conn.execute(
            "SELECT job_id, t, kind, actor, reason FROM events WHERE job_id = ? ORDER BY seq",
            (job_id,),
        ).fetchall()
    else:
        rows = store.conn.execute(
            "SELECT job_id, t, kind, actor, reason FROM events ORDER BY seq DESC LIMIT ?",
            (limit,),
        ).fetchall()[::-1]
    return [Event(*row) for row in rows]
