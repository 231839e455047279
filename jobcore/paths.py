"""Where state lives: the state folder, its database and one folder per job.

The folder is private to its owner (0700, files 0600) because logs and launch records can hold
whatever a job printed or was given; a folder owned by someone else is refused outright rather
than "fixed", since chmod-ing another user's files is never what the user meant.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import NamedTuple

from jobcore.errors import JobcoreError

ENV_HOME = "JOBCORE_HOME"
ENV_JOB_ID = "JOBCORE_JOB_ID"
"""The job id, for the command's own use (``jobcore progress``); never trusted by a sweep."""
ENV_JOB = "JOBCORE_JOB"
"""The job marker: ``<real path of the state folder>/jobs/<id>``, in the environment of the
job's worker and of everything it starts. Ids are short and repeat across state folders; the
path makes the marker name one job of one state folder."""
JOB_MARKERS = (ENV_JOB, ENV_JOB_ID)
"""What a new worker must not inherit: a job launched from inside a job is not part of it."""

DB_NAME = "jobcore.db"
JOBS_DIR = "jobs"
LOG_NAME = "output.log"
RECORD_NAME = "job.json"
LIVE_NAME = "live"
ENV_NAME = "env"


def default_home() -> Path:
    """The state folder when neither ``--home`` nor ``JOBCORE_HOME`` says otherwise."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path  # imported late: only this branch needs it

    return user_data_path("jobcore", appauthor=False)


class StateDir(NamedTuple):
    """The state folder of one jobcore installation (one database, many job folders)."""

    root: Path

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def jobs_root(self) -> Path:
        return self.root / JOBS_DIR

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_root / job_id

    def log_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / LOG_NAME

    def record_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / RECORD_NAME

    def env_path(self, job_id: str) -> Path:
        """The environment the job was launched with (see ``jobcore.launch_env``)."""
        return self.job_dir(job_id) / ENV_NAME

    def live_path(self, job_id: str) -> Path:
        """The line the job's command is rewriting right now (see ``jobcore.live_line``)."""
        return self.job_dir(job_id) / LIVE_NAME

    def job_marker(self, job_id: str) -> str:
        """The value of ``JOBCORE_JOB`` for this state folder's job ``job_id``."""
        return f"{os.path.realpath(self.root)}/{JOBS_DIR}/{job_id}"

    def marker_prefix(self) -> str:
        """What every marker of this state folder starts with (the job id follows)."""
        return self.job_marker("")

    def ensure(self) -> StateDir:
        """Create the folder (0700) if needed and refuse one that is not ours or not writable."""
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise JobcoreError(f"cannot create state folder {self.root}: {exc.strerror}") from exc
        st = self.root.stat()
        if st.st_uid != os.getuid():  # checked before anything is created in it
            raise JobcoreError(
                f"state folder {self.root} belongs to uid {st.st_uid}, not to you; "
                f"use --home or {ENV_HOME} to pick your own"
            )
        if st.st_mode & 0o077:
            os.chmod(self.root, 0o700)
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise JobcoreError(f"state folder {self.root} is not writable")
        try:
            self.jobs_root.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise JobcoreError(f"cannot create state folder {self.root}: {exc.strerror}") from exc
        return self

    def make_job_dir(self, job_id: str) -> Path:
        """Create a job's folder and its empty 0600 log; the log must exist before any reader."""
        path = self.job_dir(job_id)
        try:
            path.mkdir(mode=0o700)
            fd = os.open(self.log_path(job_id), os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
            os.close(fd)
        except OSError as exc:
            raise disk_error(exc, f"cannot create job folder {path}") from exc
        return path


def disk_error(exc: OSError, what: str) -> JobcoreError:
    """Turn an OSError into a one-line message, naming a full disk plainly."""
    if exc.errno == errno.ENOSPC:
        return JobcoreError(f"{what}: the disk is full (nothing was changed)")
    return JobcoreError(f"{what}: {exc.strerror or exc}")


def resolve_home(home: str | os.PathLike[str] | None = None) -> StateDir:
    """The state folder for ``--home`` (or the default), created and checked."""
    root = Path(home).expanduser() if home else default_home()
    return StateDir(root.absolute()).ensure()
