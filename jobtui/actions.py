"""What each job key does, when it applies, and which ``jobcore`` function does it.

The dashboard has no control logic of its own: every action is the same library call the CLI
makes (a stop with the state folder's configured grace, as ``jobcore stop``), run in a thread
because stopping a tree can take seconds of grace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jobcore.ops import control, dispatch
from jobcore.ops.control import remove
from jobcore.ops.restart import restart
from jobcore.state.models import Job, JobStatus
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from jobtui.hosts import split_id


@dataclass(frozen=True)
class JobAction:
    """One key's action on the selected job."""

    name: str
    """The Textual action name (``action_<name>`` on the app)."""
    applies_to: frozenset[JobStatus]
    """Statuses the action makes sense for; for others the key is disabled."""
    run: Callable[[StateDir, Store, str], Job]
    """The jobcore call, given the state folder, a store of the calling thread and the id."""
    title: str
    """What the command palette calls it, before the job's name ("Stop", "Remove")."""
    confirm: str | None = None
    """A question to ask first (the dangerous ones), with ``{id}`` and ``{label}``."""
    report: str = "job {id} is {status}"
    """The toast when done, with the ``{id}`` and ``{status}`` of the job returned and the
    ``{was}`` id acted on."""
    also: Callable[[Job], bool] | None = None
    """A further condition beyond the status (a held job, one not starting yet)."""

    def applies(self, job: Job | None) -> bool:
        return (
            job is not None
            and job.status in self.applies_to
            and (self.also is None or self.also(job))
        )


def _retry(state: StateDir, store: Store, job_id: str) -> Job:
    """Batch-aware retry: failed items of a batch run again; a plain job is resumed."""
    control.retry(state, store, job_id)
    return store.get(job_id)


def _restart(state: StateDir, store: Store, job_id: str) -> Job:
    """``jobcore restart``: a new job like the finished one (its id is the one returned)."""
    return restart(state, store, job_id)


def _remove(state: StateDir, store: Store, job_id: str) -> Job:
    """``jobcore rm`` without ``--force``: a job with a process is refused, not killed."""
    return remove(state, store, job_id)


def _hold(state: StateDir, store: Store, job_id: str) -> Job:
    dispatch.hold(store, job_id)
    return store.get(job_id)


def _release(state: StateDir, store: Store, job_id: str) -> Job:
    dispatch.release(state, store, job_id)
    return store.get(job_id)


def _start(state: StateDir, store: Store, job_id: str) -> Job:
    """``jobcore start`` (no ``--force``): the next free slot of its group is its."""
    dispatch.start_now(state, store, job_id)
    return store.get(job_id)


def held(job: Job) -> bool:
    """Waiting for ``release``."""
    return job.queue.held


def waiting(job: Job) -> bool:
    """Queued with no worker starting it yet: it can still be held or started now."""
    return job.worker is None


QUEUED = frozenset({JobStatus.QUEUED})
ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
EDITABLE = frozenset({JobStatus.QUEUED, JobStatus.PAUSED})
"""Jobs ``jobcore edit`` changes (the app runs the editor itself: it needs the terminal)."""


def editable(job: Job | None) -> bool:
    """A queued or paused job of this machine (``$EDITOR`` here cannot edit a job there)."""
    return job is not None and split_id(job.id)[0] is None and job.status in EDITABLE


FINISHED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

JOB_ACTIONS: dict[str, JobAction] = {
    action.name: action
    for action in (
        JobAction("stop", ACTIVE, lambda state, store, job_id: control.stop(store, job_id), "Stop"),
        JobAction("resume", frozenset({JobStatus.PAUSED}), control.resume, "Resume"),
        JobAction("retry", frozenset({JobStatus.FAILED}), _retry, "Retry"),
        JobAction(
            "kill",
            ACTIVE,
            lambda state, store, job_id: control.stop(store, job_id, kill=True),
            "Kill",
            confirm="Kill job {id} ({label}) and its whole process tree now?",
        ),
        JobAction("restart", FINISHED, _restart, "Restart", report="restarted job {was} as {id}"),
        JobAction(
            "rm",
            FINISHED | {JobStatus.PAUSED},
            _remove,
            "Remove",
            confirm="Remove job {id} ({label}) with its folder and log?",
            report="removed job {id}",
        ),
        JobAction(
            "hold",
            QUEUED,
            _hold,
            "Hold",
            report="job {id} held",
            also=lambda job: waiting(job) and not held(job),
        ),
        JobAction("release", QUEUED, _release, "Release", report="job {id} released", also=held),
        JobAction("start", QUEUED, _start, "Start now", also=waiting),
    )
}
