"""Change a job that has not run yet, or is paused: command, cwd, name, priority, env,
``--after`` and its start time.

Every value is checked as ``jobcore run`` checks it. The row is changed by one conditional
UPDATE that still requires the status the edit was made for: a job that started meanwhile
is refused, never half-edited. A queued job whose worker already waits for its turn holds
its own copy of the job, so that worker is first asked to let go (it pauses the job, as a
stop does, without the job ever starting); the edit and the requeue are then one write, and
a new worker takes the edited row. A job that started before its worker let go is left
running, unedited, and the edit refused.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from jobcore.base import limits
from jobcore.base.errors import JobcoreError, UsageError
from jobcore.ops.reconcile import reconcile
from jobcore.state.models import Job, JobStatus
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from jobcore.state.transitions import record_event

"""How long a waiting worker gets to see the request and let its queued job go."""


class Changes(NamedTuple):
    """The new values; None leaves a field as it is."""

    command: list[str] | None = None
    cwd: str | None = None
    name: str | None = None
    """The empty string removes the name."""
    priority: int | None = None
    env: dict[str, str] | None = None
    after: tuple[str, ...] | None = None
    not_before: float | None = None
    clear_not_before: bool = False

    def is_empty(self) -> bool:
        return all(v is None for v in self[:-1]) and not self.clear_not_before


def editable(job: Job) -> None:
    """Refuse a job that cannot be edited (running, finished, resuming by itself)."""
    if job.status not in (JobStatus.QUEUED, JobStatus.PAUSED):
        raise JobcoreError(
            f"job {job.id} is {job.status.value}; only queued or paused jobs are edited"
        )
    if job.status is JobStatus.PAUSED and job.paused_until is not None:
        raise JobcoreError(
            f"job {job.id} resumes by itself soon; `jobcore stop {job.id}` first, then edit"
        )


def check_env(pairs: Mapping[str, str]) -> dict[str, str]:
    """Environment names as ``--env`` takes them: letters, digits, _; no NUL anywhere."""
    for key, value in pairs.items():
        if not key or not key.replace("_", "a").isalnum() or "\0" in value:
            raise UsageError(f"env: {key!r} is not a NAME=VALUE pair a job can take")
    return dict(pairs)


def check_changes(state: StateDir, store: Store, job: Job, changes: Changes) -> Changes:
    """Every value checked as ``jobcore run`` checks it; the command against the new cwd
    and environment. Returns the changes with ids resolved and paths made absolute."""
    from jobcore.procs.programs import validate
    from jobcore.state import launch_env

    cwd = job.cwd if changes.cwd is None else os.path.abspath(changes.cwd)
    if changes.cwd is not None and not os.path.isdir(cwd):
        raise JobcoreError(f"cwd does not exist: {cwd}")
    if changes.priority is not None:
        limits.in_range("priority", changes.priority, -limits.MAX_PRIORITY - 1, limits.MAX_PRIORITY)
    env = job.env if changes.env is None else check_env(changes.env)
    command = job.command if changes.command is None else list(changes.command)
    if changes.command is not None and job.spec.get("call"):
        raise JobcoreError(f"job {job.id} calls {job.spec['call']}; it has no command to edit")
    touches_command = (changes.command, changes.cwd, changes.env) != (None, None, None)
    if touches_command and not job.spec.get("call"):
        kept = launch_env.load(state, job.id)
        validate(command, cwd, {**(launch_env.current() if kept is None else kept), **env})
    after = changes.after
    if after is not None:
        after = tuple(dict.fromkeys(store.resolve(dep).id for dep in after))
        if job.id in after:
            raise UsageError(f"job {job.id} cannot run --after itself")
    if changes.not_before is not None:
        limits.seconds("start time", max(0.0, changes.not_before - time.time()))
    return changes._replace(cwd=None if changes.cwd is None else cwd, after=after)


def _columns(state: StateDir, job: Job, changes: Changes) -> dict[str, Any]:
    """The row's new column values, with the masked command line made afresh."""
    from jobcore.state.launch_env import redactor_for

    cols: dict[str, Any] = {}
    if changes.command is not None:
        cols["command"] = json.dumps(changes.command)
    if changes.cwd is not None:
        cols["cwd"] = changes.cwd
    if changes.name is not None:
        cols["name"] = changes.name or None
    if changes.priority is not None:
        cols["priority"] = changes.priority
    if changes.env is not None:
        cols["env"] = json.dumps(changes.env)
    if changes.after is not None:
        cols["after"] = json.dumps(list(changes.after))
    if changes.not_before is not None or changes.clear_not_before:
        cols["not_before"] = changes.not_before
    if changes.command is not None or changes.env is not None:
        edited = job._replace(
            command=changes.command or job.command,
            env=job.env if changes.env is None else changes.env,
        )
        mask = redactor_for(state, edited)
        masked: dict[str, Any] = {}
        if (shown := mask.argv(edited.command)) != edited.command:
            masked["command"] = shown
        if job.on_done is not None and (text := mask.text(job.on_done)) != job.on_done:
            masked["on_done"] = text
        cols["masked"] = json.dumps(masked)
    return cols


def edit(state: StateDir, store: Store, job_id: str, changes: Changes) -> Job:
    """Apply checked ``changes`` to a queued or paused job; returns the job as edited."""
    reconcile(store)
    job = store.get(job_id)
    editable(job)
    changes = check_changes(state, store, job, changes)
    if changes.is_empty():
        return job
    cols = _columns(state, job, changes)
    with store.write() as conn:
        _update_if(conn, job, cols, job.status.value)
    if job.status is JobStatus.QUEUED:  # a new start time, line or dependency may let it go
        from jobcore.ops import dispatch

        dispatch.start_now_or_later(state, store, job.id)
    return store.get(job.id)


def _update_if(conn: Any, job: Job, cols: dict[str, Any], status: str) -> None:
    """The conditional UPDATE: only while the job is still ``status``, with the worker it
    had when read, and not being started (no claim): a job never runs half-edited."""
    sets = ", ".join(f"{key} = ?" for key in cols)
    changed = conn.execute(
        f"UPDATE jobs SET {sets} WHERE id = ? AND status = ? AND paused_until IS NULL"
        " AND worker_pid IS ? AND claim IS NULL",
        [*cols.values(), job.id, status, job.worker.pid if job.worker else None],
    ).rowcount
    if not changed:
        now = conn.execute("SELECT status FROM jobs WHERE id = ?", (job.id,)).fetchone()
        what = "is gone" if now is None else f"is {now[0]} now"
        raise JobcoreError(f"job {job.id} {what}; it was not edited")
    record_event(conn, job.id, "edited", "user", ", ".join(sorted(cols)))


def changes_from_env_args(
    job: Job, set_env: Sequence[str], unset: Sequence[str]
) -> dict[str, str] | None:
    """``--env K=V`` and ``--unset-env K`` applied to the job's environment (None: neither)."""
    if not set_env and not unset:
        return None
    env = dict(job.env)
    for pair in set_env:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"--env expects NAME=VALUE, got {pair!r}")
        env[key] = value
    for key in unset:
        if key not in env:
            raise UsageError(f"job {job.id} has no --env {key} to unset")
        del env[key]
    return check_env(env)


# -- the $EDITOR form ------------------------------------------------------------------------

FORM_HELP = """\
# Edit job {id} ({status}). Save and quit to apply; empty the file to cancel.
# command is an argv list (no shell); not_before is a local time (delete it: no delay);
# after lists the ids this job waits for; [env] holds the job's --env values.
"""


def form(job: Job) -> str:
    """The editable fields of ``job`` as a small TOML document."""
    import datetime

    import tomli_w

    fields: dict[str, Any] = {
        "command": job.command,
        "cwd": job.cwd,
        "name": job.name or "",
        "priority": job.queue.priority,
        "after": list(job.queue.after),
    }
    if job.queue.not_before is not None:
        fields["not_before"] = datetime.datetime.fromtimestamp(job.queue.not_before).replace(
            microsecond=0
        )
    fields["env"] = job.env
    return FORM_HELP.format(id=job.id, status=job.status.value) + tomli_w.dumps(fields)


def parse_form(text: str, job: Job) -> Changes | None:
    """What the edited form changes (None: the file was emptied, so nothing is done).

    A TOML syntax error or a field of the wrong type is a JobcoreError naming it."""
    import datetime
    import tomllib

    if not text.strip() or all(
        line.lstrip().startswith("#") for line in text.splitlines() if line.strip()
    ):
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"not valid TOML: {exc}") from None
    known = {"command", "cwd", "name", "priority", "after", "not_before", "env"}
    if unknown := sorted(set(data) - known):
        raise UsageError(f"unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")

    def typed(key: str, kind: type | tuple[type, ...], what: str) -> Any:
        value = data.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise UsageError(f"{key} must be {what}")
        return value

    command = typed("command", list, "a list of strings")
    if command is not None and not all(isinstance(a, str) for a in command):
        raise UsageError("command must be a list of strings")
    after = typed("after", list, "a list of job ids")
    env = typed("env", dict, 'a table of NAME = "value"')
    if env is not None and not all(isinstance(v, str) for v in env.values()):
        raise UsageError("env values must be strings")
    not_before = typed("not_before", (datetime.datetime, datetime.date), "a local date-time")
    if isinstance(not_before, datetime.datetime):
        not_before = not_before.timestamp()
    elif not_before is not None:
        not_before = datetime.datetime.combine(not_before, datetime.time()).timestamp()
    name = typed("name", str, "a string")
    new = Changes(
        command=command if command is not None and command != job.command else None,
        cwd=typed("cwd", str, "a folder path"),
        name=name if name is not None and name != (job.name or "") else None,
        priority=typed("priority", int, "a whole number"),
        env=env if env is not None and env != job.env else None,
        after=tuple(after) if after is not None and tuple(after) != job.queue.after else None,
        not_before=not_before if not_before != job.queue.not_before else None,
        clear_not_before=not_before is None and job.queue.not_before is not None,
    )
    if new.cwd == job.cwd:
        new = new._replace(cwd=None)
    if new.priority == job.queue.priority:
        new = new._replace(priority=None)
    return new


def edit_in_editor(state: StateDir, store: Store, job: Job, editor: Sequence[str]) -> Job | None:
    """Open ``editor`` on the job's form until it parses and checks (an error is put at
    the top of the file and the editor opened again, as ``git commit`` does); apply it.
    None when the user emptied the file."""
    import subprocess
    import tempfile

    text = form(job)
    fd, path = tempfile.mkstemp(prefix=f"jobcore-edit-{job.id}-", suffix=".toml")
    try:
        while True:
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_TRUNC), "w") as fh:
                fh.write(text)
            code = subprocess.call([*editor, path])
            if code != 0:
                raise JobcoreError(f"the editor exited with code {code}; job {job.id} unchanged")
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            try:
                changes = parse_form(text, job)
                if changes is None:
                    return None
                check_changes(state, store, job, changes)
            except JobcoreError as exc:
                kept = "\n".join(
                    line for line in text.splitlines() if not line.startswith("# error: ")
                )
                text = f"# error: {exc}\n{kept}\n"
                continue
            return edit(state, store, job.id, changes)
    finally:
        os.close(fd)
        os.unlink(path)
