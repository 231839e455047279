"""Where state lives: the state folder, its database and one folder per job.

The folder is private to its owner (0700, files 0600) because logs and launch records can hold
whatever a job printed or was given; a folder owned by someone else is refused outright rather
than "fixed", since chmod-ing another user's files is never what the user meant.

Nothing below the root is reached through a symlink: a link planted while the folder was
writable by others (``jobs/``, a job's folder, its ``output.log``) would make a root-run
``jobcore resume`` append to any file on the machine. Files are opened with ``open_private``,
which walks from the root one folder at a time (``O_NOFOLLOW``, each a real folder of ours).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import NamedTuple

from jobcore.base.errors import JobcoreError
from jobcore.base.home import APP_NAME, ENV_HOME

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
SLOTS_DIR = "slots"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def default_home() -> Path:
    """The state folder when neither ``--home`` nor ``JOBCORE_HOME`` says otherwise."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path  # imported late: only this branch needs it

    return user_data_path(APP_NAME, appauthor=False)


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
        """The environment the job was launched with (see ``jobcore.state.launch_env``)."""
        return self.job_dir(job_id) / ENV_NAME

    def live_path(self, job_id: str) -> Path:
        """The line the job's command is rewriting right now (see ``jobcore.state.live_line``)."""
        return self.job_dir(job_id) / LIVE_NAME

    def job_marker(self, job_id: str) -> str:
        """The value of ``JOBCORE_JOB`` for this state folder's job ``job_id``."""
        return f"{os.path.realpath(self.root)}/{JOBS_DIR}/{job_id}"

    def marker_prefix(self) -> str:
        """What every marker of this state folder starts with (the job id follows)."""
        return self.job_marker("")

    @property
    def slots_root(self) -> Path:
        return self.root / SLOTS_DIR

    def ensure(self, create: bool = True) -> StateDir:
        """Create the folder (0700) if needed and refuse one that is not ours or not writable.

        ``create=False`` is for commands that only read: a typo in ``--home`` says there is
        no such folder rather than leaving a new empty one behind.
        """
        if not create and not self.root.exists():
            raise JobcoreError(f"no state folder at {self.root}")
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
        for folder in (self.jobs_root, self.slots_root):
            self._ensure_folder(folder, create=folder == self.jobs_root)
        return self

    def _ensure_folder(self, folder: Path, create: bool) -> None:
        """Check (and with ``create`` make) one folder of the root: real, ours, 0700."""
        try:
            if create:
                with contextlib.suppress(FileExistsError):
                    folder.mkdir(mode=0o700)
            os.close(open_folder(folder, self.root, tighten=True))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise JobcoreError(f"cannot create state folder {self.root}: {exc.strerror}") from exc

    def make_job_dir(self, job_id: str) -> Path:
        """Create a job's folder and its empty 0600 log; the log must exist before any reader."""
        path = self.job_dir(job_id)
        try:
            try:
                make_folder(path, self.root, exist_ok=False)
            except FileNotFoundError:  # jobs/ removed since a long-lived caller prepared it
                self._ensure_folder(self.jobs_root, create=True)
                make_folder(path, self.root, exist_ok=False)
            os.close(open_private(self.log_path(job_id), os.O_CREAT | os.O_WRONLY, self.root))
        except OSError as exc:
            raise disk_error(exc, f"cannot create job folder {path}") from exc
        return path

    def remove_job_dir(self, job_id: str) -> None:
        """Remove a job's folder with all in it; a symlink in its place is not followed."""
        import shutil

        jobs_fd = open_folder(self.jobs_root, self.root)
        try:
            shutil.rmtree(job_id, ignore_errors=True, dir_fd=jobs_fd)
        finally:
            os.close(jobs_fd)


def _refusal(path: Path, why: str) -> JobcoreError:
    return JobcoreError(f"refusing {path}: {why} (jobcore never follows links in its state folder)")


def _check_ours(fd: int, path: Path, want_dir: bool, tighten: bool = False) -> None:
    """Refuse what a neighbour could have planted: not ours, or not a plain folder/file."""
    st = os.fstat(fd)
    if st.st_uid != os.getuid():
        raise JobcoreError(f"refusing {path}: it belongs to uid {st.st_uid}, not to you")
    if want_dir:
        if tighten and st.st_mode & 0o077:
            os.fchmod(fd, 0o700)  # ours, made by an older jobcore under a loose umask
    elif not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
        raise _refusal(path, "not a plain file with one name")


def open_folder(folder: Path, root: Path, *, tighten: bool = False) -> int:
    """A descriptor of ``folder`` (inside ``root``) reached without following any symlink.

    The root is the user's choice and may be a link; every folder below it is opened with
    ``O_NOFOLLOW`` relative to its parent and must be a real folder owned by the user.
    ``tighten`` makes a loose folder of ours 0700 (writers do; readers only check).
    """
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    here = root
    try:
        for part in folder.relative_to(root).parts:
            here = here / part
            try:
                inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _refusal(here, _what_is(here)) from exc
                raise
            os.close(fd)
            fd = inner
            _check_ours(fd, here, want_dir=True, tighten=tighten)
    except BaseException:
        os.close(fd)
        raise
    return fd


def make_folder(folder: Path, root: Path, *, exist_ok: bool = True) -> None:
    """Create ``folder`` (0700) in its parent, reached as ``open_folder`` reaches it."""
    parent_fd = open_folder(folder.parent, root)
    try:
        os.mkdir(folder.name, 0o700, dir_fd=parent_fd)
    except FileExistsError:
        if not exist_ok:
            raise
    finally:
        os.close(parent_fd)


def open_private(path: Path, flags: int, root: Path | None = None, mode: int = 0o600) -> int:
    """Open a file of the state folder (``root``) without following a symlink to or in it.

    ``root`` defaults to that of a job's file, ``<root>/jobs/<id>/<name>``. A symlink, a
    folder of someone else, or a file with a second name (a hard link) is refused.
    """
    root = path.parents[2] if root is None else root
    dir_fd = open_folder(path.parent, root)
    try:
        try:
            fd = os.open(path.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _refusal(path, "it is a symlink") from exc
            raise
    finally:
        os.close(dir_fd)
    try:
        _check_ours(fd, path, want_dir=False)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _what_is(path: Path) -> str:
    return "it is a symlink" if path.is_symlink() else "it is not a folder"


def disk_error(exc: OSError, what: str) -> JobcoreError:
    """Turn an OSError into a one-line message, naming a full disk plainly."""
    if exc.errno == errno.ENOSPC:
        return JobcoreError(f"{what}: the disk is full (nothing was changed)")
    return JobcoreError(f"{what}: {exc.strerror or exc}")


def resolve_home(home: str | os.PathLike[str] | None = None, create: bool = True) -> StateDir:
    """The state folder for ``--home`` (or the default), created if needed and checked.

    ``create=False`` (commands that only read) refuses a folder named by ``--home`` or
    ``$JOBCORE_HOME`` that does not exist, most likely a typo; the default folder is made
    on first use either way, so a new user's first ``jobcore ls`` says "no jobs yet".
    """
    named = bool(home) or bool(os.environ.get(ENV_HOME))
    root = Path(home).expanduser() if home else default_home()
    return StateDir(root.absolute()).ensure(create or not named)
