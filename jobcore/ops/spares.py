"""Spare workers kept ready by the dispatcher: its spare maker, the spares the maker forks,
and what a spare does before and once it is handed a job (docs/decisions/0029-a-spare-worker.md,
0030-a-spare-maker.md). ``jobcore.ops.spawn`` hands a job to the kept spare. Only the
dispatcher keeps spares, so this module is its alone (it loads psutil, as the dispatcher does
anyway)."""

from __future__ import annotations

import functools
import os
import socket
from typing import TYPE_CHECKING

from jobcore.base.errors import JobcoreError
from jobcore.ops import spare, spare_maker, spawn
from jobcore.procs import forking
from jobcore.procs.inherited import inherited
from jobcore.state.paths import ENV_JOB, StateDir
from jobcore.state.store import Store

if TYPE_CHECKING:
    from jobcore.worker.worker import FollowUps


def keep(state: StateDir, store: Store, follow_ups: FollowUps) -> None:
    """Have a spare worker ready for the next job of ``state`` with ``follow_ups``
    (``jobcore.ops.spare``), made by the spare maker (``jobcore.ops.spare_maker``), which is
    forked now if there is none and this process may fork."""
    if spare.kept():
        return
    for_jobs, settings = (state.root, follow_ups), inherited(os.getpid())
    maker = spare_maker.kept(for_jobs, settings) or _fork_maker(state, store, follow_ups, settings)
    made = None if maker is None else maker.make()
    if made is None:
        spare_maker.let_go()  # a maker that failed: the next wish forks another
        return
    pid, sock = made
    spare.keep(spare.Spare(pid, sock, for_jobs))


def let_go() -> None:
    """Let the kept spare go, then its maker (which collects the spare meanwhile)."""
    spare.let_go()
    spare_maker.let_go()


def _spare_env(state: StateDir) -> dict[str, str]:
    env = spawn.worker_env(state, "")
    env[ENV_JOB] = ""  # a marker of no job: a sweep of any job leaves it alone
    return env


def _fork_maker(
    state: StateDir, store: Store, follow_ups: FollowUps, settings: object
) -> spare_maker.Maker | None:
    """Fork a spare maker for jobs of ``state`` with ``follow_ups`` and keep it (its children
    start with ``settings``); None where this process may not fork."""
    env = _spare_env(state)
    if not (forking.safe() and forking.fits(env)):
        return None
    ours, theirs = spare.socket_pair()
    fork = functools.partial(_fork_spare, state, follow_ups, env)

    def run() -> int:
        spare.hold_only(theirs)
        spawn.name_process("jobcore-spares")
        return spare_maker.serve(theirs, fork)

    try:
        pid = spawn.fork_detached(state, store, env, ["jobcore-spares", str(state.root)], run)
    except OSError:
        ours.close()
        return None
    finally:
        theirs.close()
    maker = spare_maker.Maker(pid, ours, (state.root, follow_ups), settings)
    spare_maker.keep(maker)
    return maker


def _fork_spare(
    state: StateDir, follow_ups: FollowUps, env: dict[str, str]
) -> tuple[int, socket.socket]:
    """In the spare maker: fork a spare; its pid and the starter's end of its socket."""
    ours, theirs = spare.socket_pair()
    ready = functools.partial(_ready_spare, state, follow_ups)
    try:
        pid = forking.fork_as(env, ["jobcore-spare", str(state.root)])
        if pid == 0:
            forking.run_detached(lambda: spare.wait_for_job(theirs, ready))
    except OSError:
        ours.close()
        raise
    finally:
        theirs.close()
    return pid, ours


def _ready_spare(state: StateDir, follow_ups: FollowUps) -> spare.Take:
    """A spare, detached, readies what needs no job: its name, what a worker is before its
    job (``worker.get_ready``), its connection, and a rehearsal of a start."""
    spawn.name_process("jobcore-spare")
    from jobcore.worker.worker import get_ready

    get_ready(str(state.root))
    try:
        store = Store(state)
    except JobcoreError:  # opened once it has its job, which then fails saying why in its log
        return functools.partial(_spare_worker, state, follow_ups, None)
    from jobcore.worker.rehearsal import rehearse

    rehearse(state, store)
    return functools.partial(_spare_worker, state, follow_ups, store)


def _spare_worker(
    state: StateDir,
    follow_ups: FollowUps,
    store: Store | None,
    job_id: str,
    claim: str,
    slot_fd: int | None,
    stdio: tuple[int, int],
) -> int:
    """A spare handed its job: marked as the job's, it runs it (it is ready already)."""
    forking.become(spawn.worker_env(state, job_id), ["jobcore-worker", job_id, str(state.root)])
    spawn.take_stdio(job_id, stdio)
    for fd in stdio:  # received, so inheritable: its command must not get them
        os.close(fd)
    from jobcore.worker.worker import run_ready

    return run_ready(str(state.root), job_id, claim, slot_fd, follow_ups, store)
