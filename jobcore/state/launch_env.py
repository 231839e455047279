"""The environment a job was launched with: kept in its folder, used by every run of it.

Resume and retry run a job with the environment it was launched with, not the one of whoever
resumes it (another terminal, cron, the dashboard): a batch launched in a venv or with
``AWS_PROFILE=prod`` must not come back with another PATH or account halfway through. The
file holds whatever secrets the launching shell had, so it is 0600 in the job's 0700 folder,
read without following symlinks, removed with the folder by ``clean``, and never shown:
its secret values only feed the job's Redactor.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from jobcore.base.errors import JobcoreError
from jobcore.base.redact import Redactor
from jobcore.state.atomic import write_json
from jobcore.state.models import Job
from jobcore.state.paths import ENV_HOME, JOB_MARKERS, StateDir, disk_error, open_private

SET_BY_WORKER = frozenset({*JOB_MARKERS, ENV_HOME})
"""Markers the worker sets for each run: never kept (a job launched from inside a job would
otherwise carry the outer job's)."""


def current(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment as a job keeps it (``environ`` defaults to os.environ)."""
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items() if k not in SET_BY_WORKER}


def save(state: StateDir, job_id: str, env: Mapping[str, str], *, durable: bool = True) -> None:
    """Keep ``env`` as the job's environment (atomically: a reader never sees half of it)."""
    try:
        write_json(state.env_path(job_id), dict(env), root=state.root, durable=durable)
    except OSError as exc:
        raise disk_error(exc, f"cannot keep the environment of job {job_id}") from exc


def load(state: StateDir, job_id: str) -> dict[str, str] | None:
    """The job's launch environment; None for a job launched before it was kept."""
    path = state.env_path(job_id)
    try:
        fd = open_private(path, os.O_RDONLY, state.root)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise JobcoreError(f"cannot read the launch environment {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as fh:
        data = fh.read()
    try:
        env = json.loads(data)
    except ValueError:
        env = None
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise JobcoreError(
            f"the launch environment {path} is corrupt; resume with --env-now to replace it"
        )
    return env


def command_env(state: StateDir, job: Job) -> dict[str, str]:
    """What the job's command sees, before the worker's markers: its launch environment
    (this process's for a job from before) with the job's ``--env`` values on top."""
    kept = load(state, job.id)
    return {**(current() if kept is None else kept), **job.env}


def redactor_for(state: StateDir, job: Job) -> Redactor:
    """The job's Redactor for a reader (``show``, ``failures``, the dashboard): the same
    secrets its worker masks. An unreadable launch environment masks the known shapes only."""
    from jobcore.state import config

    try:
        listed = config.load(state)["redact_env"]
    except JobcoreError:
        listed = []
    try:
        kept = load(state, job.id) or {}
    except JobcoreError:
        kept = {}
    return Redactor.for_env({**kept, **job.env}, [*job.redact, *listed])
