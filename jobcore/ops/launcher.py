"""Create jobs: check the command can run, write its row and folder, then hand it to the queue.

The row is created claimed by this process (``held_by``), so no starter takes the job before
its folder, launch environment and record exist; then it is released and started at once if
its turn has come (``jobcore.ops.dispatch``), which spawns its worker (``jobcore.ops.spawn``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from jobcore.base.errors import JobcoreError
from jobcore.base.redact import Redactor
from jobcore.procs.identity import self_identity
from jobcore.procs.programs import validate
from jobcore.state import launch_env
from jobcore.state.atomic import make_durable, write_json
from jobcore.state.item_text import is_text
from jobcore.state.models import BatchSpec, Job, QueueSpec
from jobcore.state.paths import StateDir, disk_error
from jobcore.state.store import Store


def launch(
    state: StateDir,
    store: Store,
    command: Sequence[str],
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    name: str | None = None,
    batch: BatchSpec | None = None,
    items: Sequence[str] = (),
    queue: QueueSpec | None = None,
    on_done: str | None = None,
    redact: Sequence[str] = (),
    launched_env: Mapping[str, str] | None = None,
    token: str | None = None,
) -> Job:
    """Create a job (one command, or a batch of ``items``) and start its worker; returns at once.

    Everything that can be checked is checked first: nothing is created for a command that
    does not exist, a missing cwd or a ``--call`` target that cannot be imported. The job
    keeps ``launched_env`` as its launch environment (default: this process's; ``restart``
    gives the original job's). A launch under a ``token`` a job was made with already
    returns that job (a dispatcher made it, then went silent: ``jobcore.cli.handoff``).
    """
    if token is not None and (earlier := _launched_before(state, store, token)) is not None:
        return earlier
    cwd = os.path.abspath(cwd or os.getcwd())
    for what, text in (("the folder", cwd), ("--name", name or "")):
        if not is_text(text):  # the database keeps them as text
            raise JobcoreError(f"{what} {text!r} is not valid UTF-8; jobcore keeps it as text")
    overrides = dict(env or {})
    if batch is not None:
        from jobcore.base.limits import check_batch

        check_batch(batch.parallel, batch.retries, batch.backoff)
        from jobcore.state.cluster import resolve as settle_cluster

        batch = settle_cluster(batch, state)
    launched = launch_env.current() if launched_env is None else dict(launched_env)
    if batch is not None and batch.call:
        if not os.path.isdir(cwd):
            raise JobcoreError(f"cwd does not exist: {cwd}")
        from jobcore.worker.calls import resolve

        resolve(batch.call, cwd)
        command = []
    else:
        validate(command, cwd, {**launched, **overrides})
    spec = batch.to_spec() if batch is not None else None
    redactor = _redactor(state, {**launched, **overrides}, redact)
    masked = _masked(redactor, command, on_done)
    job = store.create_job(
        list(command),
        cwd,
        overrides,
        name,
        spec=spec,
        items=items,
        queue=queue,
        on_done=on_done,
        redact=redact,
        masked=masked,
        held_by=self_identity(),
        launch_token=token,
    )
    try:  # durable once its worker is started: ``_make_durable``
        state.make_job_dir(job.id)
        launch_env.save(state, job.id, launched, durable=False)
        write_json(
            state.record_path(job.id),
            {
                "id": job.id,
                "name": name,
                "command": job.shown_command,
                "cwd": cwd,
                "env": job.masked_env,
                "batch": spec,
                "on_done": job.shown_on_done,
                "created_at": job.created_at,
            },
            root=state.root,
            durable=False,
        )
    except (OSError, JobcoreError) as exc:
        store.delete_job(job.id)
        if isinstance(exc, OSError):
            raise disk_error(exc, f"cannot write job {job.id}") from exc
        raise
    from jobcore.ops import dispatch

    store.release_new(job.id)
    try:
        dispatch.start_now_or_later(state, store, job.id)
    finally:
        _make_durable(state, job.id)
    return job


def _launched_before(state: StateDir, store: Store, token: str) -> Job | None:
    """The job made under ``token`` by a dispatcher that then went silent: started now if
    it died before letting the job go, forgotten if it died before writing it."""
    earlier = store.job_launched_as(token)
    if earlier is None:
        return None
    from jobcore.ops import dispatch

    if dispatch.release_dead_claims(store, earlier.id):
        dispatch.start_now_or_later(state, store, earlier.id)
    return store.job_launched_as(token)


def _make_durable(state: StateDir, job_id: str) -> None:
    """The job's launch environment and record, synced after its worker was started (the
    command does not wait for the disk) and before its id is reported to anyone."""
    try:
        make_durable([state.env_path(job_id), state.record_path(job_id)], root=state.root)
    except FileNotFoundError:
        return  # the job ended and was cleaned away already (``keep``)
    except OSError as exc:
        raise disk_error(exc, f"cannot write job {job_id}") from exc


def _redactor(state: StateDir, env: Mapping[str, str], redact: Sequence[str]) -> Redactor:
    """The new job's Redactor, as its worker will build it (``redact_env`` of the config too)."""
    from jobcore.state import config

    try:
        listed = [*redact, *config.load(state)["redact_env"]]
    except JobcoreError:
        listed = list(redact)  # the worker reports a broken config; masking goes on
    return Redactor.for_env(env, listed)


def _masked(redactor: Redactor, command: Sequence[str], on_done: str | None) -> dict[str, Any]:
    """What is shown instead of the command line and callback, where masking changes them."""
    masked: dict[str, Any] = {}
    shown = redactor.argv(command)
    if shown != list(command):
        masked["command"] = shown
    if on_done is not None and (text := redactor.text(on_done)) != on_done:
        masked["on_done"] = text
    return masked
