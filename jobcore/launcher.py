"""Create jobs and start their detached workers.

The worker gets a new session (it survives the terminal closing and SIGHUP to the launcher's
group), /dev/null as stdin and the job log as stdout/stderr: a worker left writing to a closed
terminal dies of EIO on its next print. The launcher records the worker's identity right after
spawning; the worker records it too, so a launcher killed at any moment leaves no job that
looks alive but has no process (a job with no worker at all is failed after a grace period).
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import os
import shlex
import shutil
import signal
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NoReturn

from jobcore import forking, launch_env
from jobcore.atomic import write_json
from jobcore.errors import JobcoreError, UsageError
from jobcore.liveness import identity_of, self_identity
from jobcore.models import BatchSpec, Job, JobStatus, QueueSpec
from jobcore.paths import ENV_JOB, JOB_MARKERS, StateDir, disk_error, open_private
from jobcore.redact import Redactor
from jobcore.store import Store

WORKER_NAME = "jobcore-{job_id}"
"""A forked worker's process name (``ps``, ``pgrep jobcore-``): its argv stays the launcher's
(a spawned one runs ``python -m jobcore.worker STATE_DIR JOB_ID``)."""

_spawned: list[int] = []
"""Workers started here: polled so long-lived callers (the dashboard) leave no zombies."""


def find_executable(command: str, cwd: str, env: Mapping[str, str]) -> str | None:
    """Where ``command`` would be found when run from ``cwd`` with ``env``'s PATH."""
    if os.sep in command:
        path = os.path.join(cwd, command)
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    return shutil.which(command, path=env.get("PATH", os.defpath))


def validate(command: Sequence[str], cwd: str, env: Mapping[str, str]) -> None:
    """Refuse what cannot run before a job exists: no command, a missing cwd or program."""
    if not command:
        raise UsageError("no command given (put it after --, e.g. jobcore run -- make test)")
    if not os.path.isdir(cwd):
        raise JobcoreError(f"cwd does not exist: {cwd}")
    if find_executable(command[0], cwd, env) is None:
        raise JobcoreError(_not_found(command, cwd, env))


def _not_found(command: Sequence[str], cwd: str, env: Mapping[str, str]) -> str:
    """Why a program cannot be run, with the fix: pueue's one-string habit, a missing x bit."""
    program = command[0]
    if os.sep in program:
        candidates = [os.path.join(cwd, program)]
    else:
        candidates = [os.path.join(d, program) for d in env.get("PATH", os.defpath).split(":")]
    for path in candidates:
        if os.path.isfile(path) and not os.access(path, os.X_OK):
            return f"{path} is not executable (chmod +x it, or run it with its interpreter)"
    if len(command) == 1 and " " in program.strip():
        return (
            f"command not found: {program!r} is one argument with spaces; to run it with a "
            f"shell: jobcore run -- sh -c {shlex.quote(program)}"
        )
    return f"command not found: {program}"


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
) -> Job:
    """Create a job (one command, or a batch of ``items``) and start its worker; returns at once.

    Everything that can be checked is checked first: nothing is created for a command that
    does not exist, a missing cwd or a ``--call`` target that cannot be imported. The job
    keeps ``launched_env`` as its launch environment (default: this process's; ``restart``
    gives the original job's).
    """
    cwd = os.path.abspath(cwd or os.getcwd())
    overrides = dict(env or {})
    if batch is not None:
        from jobcore.limits import check_batch

        check_batch(batch.parallel, batch.retries, batch.backoff)
        from jobcore.cluster import resolve as settle_cluster

        batch = settle_cluster(batch, state)
    launched = launch_env.current() if launched_env is None else dict(launched_env)
    if batch is not None and batch.call:
        if not os.path.isdir(cwd):
            raise JobcoreError(f"cwd does not exist: {cwd}")
        from jobcore.calls import resolve

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
    )
    try:
        state.make_job_dir(job.id)
        launch_env.save(state, job.id, launched)
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
        )
    except (OSError, JobcoreError) as exc:
        store.delete_job(job.id)
        if isinstance(exc, OSError):
            raise disk_error(exc, f"cannot write job {job.id}") from exc
        raise
    from jobcore import dispatch

    store.release_new(job.id)
    dispatch.start_now_or_later(state, store, job.id)
    return job


def _redactor(state: StateDir, env: Mapping[str, str], redact: Sequence[str]) -> Redactor:
    """The new job's Redactor, as its worker will build it (``redact_env`` of the config too)."""
    from jobcore import config

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


def submit(
    target: str,
    items: Iterable[object],
    *,
    name: str | None = None,
    parallel: int = 1,
    retries: int = 0,
    backoff: float = 1.0,
    processes: bool = False,
    cwd: str | None = None,
    home: str | None = None,
    cluster: str | None = None,
) -> str:
    """Run ``package.module:function`` once per item in a detached job; returns the job id.

    Items are passed to the function as strings (one per item, as with ``--each``).
    ``cluster``: a Dask scheduler's address to run them on (default: ``config set
    cluster``, else this machine).
    """
    from jobcore.paths import resolve_home

    state = resolve_home(home)
    spec = BatchSpec(
        parallel=parallel,
        retries=retries,
        backoff=backoff,
        call=target,
        processes=processes,
        cluster=cluster,
    )
    with Store(state) as store:
        job = launch(
            state, store, [], cwd=cwd, name=name, batch=spec, items=[str(item) for item in items]
        )
    return job.id


def _reap_spawned() -> None:
    """Collect workers of ours that have exited (a long-lived caller leaves no zombies)."""
    for pid in list(_spawned):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _spawned.remove(pid)


def worker_env(state: StateDir, job_id: str) -> dict[str, str]:
    """Our environment for a new worker, with its own job's marker instead of ours.

    Launched from inside a job (``jobcore run`` in its command, ``jobcore.submit()`` in a
    batch function), the new worker must not pass for a process of that job: its sweeps
    would kill it as a leftover. Marked as its own job, it is also what their tree walk
    leaves out, with everything under it.
    """
    env = {name: value for name, value in os.environ.items() if name not in JOB_MARKERS}
    env[ENV_JOB] = state.job_marker(job_id)
    return env


SLOT_FD = 3
"""Where a worker finds its job's group slot (a flock'ed descriptor) when it has one."""


def spawn_worker(
    state: StateDir, store: Store, job_id: str, *, claim: str, slot_fd: int | None = None
) -> None:
    """Start a detached worker for a job claimed with ``claim`` and record who it is.

    ``slot_fd``, the group slot the starter took, is handed down as SLOT_FD: the worker
    and its command hold the slot from then on (``jobcore.dispatch``).

    Where this process is fork-safe (``jobcore.forking``) the worker is a fork of it: no
    second interpreter, no second round of imports. Elsewhere it is ``python -m
    jobcore.worker`` through posix_spawn rather than subprocess: one call, no fork of a big
    parent, and no import of subprocess on the launch path. Either way only the three
    standard streams reach the worker's command (see ``worker._close_inherited_fds``).
    """
    _reap_spawned()
    try:
        log_fd = open_private(
            state.log_path(job_id), os.O_WRONLY | os.O_APPEND | os.O_CREAT, state.root
        )
    except (OSError, JobcoreError) as exc:
        error = exc if isinstance(exc, JobcoreError) else disk_error(exc, "cannot open the log")
        store.finish_if_active(job_id, JobStatus.FAILED, str(error), expect_worker=None)
        raise error from exc
    null_fd = os.open(os.devnull, os.O_RDONLY)
    try:
        if forking.safe():
            pid = _fork_worker(state, store, job_id, claim, slot_fd, log_fd, null_fd)
        else:
            pid = _spawn_worker(state, job_id, claim, slot_fd, log_fd, null_fd)
    except OSError as exc:
        store.finish_if_active(
            job_id, JobStatus.FAILED, f"cannot start worker: {exc}", expect_worker=None
        )
        raise JobcoreError(f"cannot start worker: {exc.strerror or exc}") from exc
    finally:
        os.close(log_fd)
        os.close(null_fd)
    _spawned.append(pid)
    if ENV_JOB in os.environ:  # launched from inside a job: maybe in that job's cgroup
        from jobcore.cgroup import settle_worker

        settle_worker(pid)
    identity = identity_of(pid)
    if identity is not None:
        with store.write() as conn:
            conn.execute(
                "UPDATE jobs SET worker_pid = ?, worker_start = ?, boot_id = ?"
                " WHERE id = ? AND worker_pid IS NULL",
                (identity.pid, identity.start, identity.boot_id, job_id),
            )


def _spawn_worker(
    state: StateDir, job_id: str, claim: str, slot_fd: int | None, log_fd: int, null_fd: int
) -> int:
    """Start ``python -m jobcore.worker`` for the job; returns its pid."""
    argv = [sys.executable, "-m", "jobcore.worker", str(state.root), job_id, claim]
    actions = [
        (os.POSIX_SPAWN_DUP2, null_fd, 0),
        (os.POSIX_SPAWN_DUP2, log_fd, 1),
        (os.POSIX_SPAWN_DUP2, log_fd, 2),
    ]
    slot_copy = None
    if slot_fd is not None:
        # dup2 onto itself would leave it close-on-exec: hand over a copy at another number
        slot_copy = fcntl.fcntl(slot_fd, fcntl.F_DUPFD_CLOEXEC, SLOT_FD + 1)
        actions.append((os.POSIX_SPAWN_DUP2, slot_copy, SLOT_FD))
        argv.append(str(SLOT_FD))
    try:
        return os.posix_spawn(
            sys.executable, argv, worker_env(state, job_id), file_actions=actions, setsid=True
        )
    finally:
        if slot_copy is not None:
            os.close(slot_copy)


def _name_process(name: str) -> None:
    """What ``ps``, ``top`` and ``pgrep`` call this process (its argv stays the launcher's)."""
    with contextlib.suppress(OSError):
        fd = os.open("/proc/self/comm", os.O_WRONLY)
        try:
            os.write(fd, name.encode())
        finally:
            os.close(fd)


def _fork_worker(
    state: StateDir,
    store: Store,
    job_id: str,
    claim: str,
    slot_fd: int | None,
    log_fd: int,
    null_fd: int,
) -> int:
    """Fork the worker; returns its pid. ``store``'s connection is closed across the fork
    (SQLite forbids using one in two processes) and open again when this returns."""
    env = worker_env(state, job_id)
    for stream in (sys.stdout, sys.stderr):  # or the child would write our buffered text too
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    store.close()
    try:
        pid = os.fork()
        if pid == 0:
            _become_worker(state, job_id, claim, slot_fd, env, log_fd, null_fd)
    finally:
        store.connect()  # only the parent gets here: the child never returns
    return pid


def _become_worker(
    state: StateDir,
    job_id: str,
    claim: str,
    slot_fd: int | None,
    env: dict[str, str],
    log_fd: int,
    null_fd: int,
) -> NoReturn:
    """In the forked child: detach as a spawned worker would be, run the job, exit.

    Nothing inherited from the launcher is finalised here (``gc.freeze``): an object of its
    could own a descriptor number the worker has reused by then. Signal handlers the
    launcher set go back to their defaults, as an exec would reset them.
    """
    code = 1
    try:
        gc.freeze()
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        os.setsid()
        _name_process(WORKER_NAME.format(job_id=job_id))
        os.dup2(null_fd, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.environ.clear()
        os.environ.update(env)
        for signum in signal.valid_signals():
            handler = signal.getsignal(signum)
            if callable(handler) and handler is not signal.default_int_handler:
                default = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
                signal.signal(signum, default)
        from jobcore.worker import serve

        code = serve(str(state.root), job_id, claim, slot_fd, forked=True)
    except BaseException:
        with contextlib.suppress(BaseException):
            import traceback

            traceback.print_exc()  # to the job log: a crashed worker says why
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
