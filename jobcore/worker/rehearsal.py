"""A spare worker's rehearsal: the reading half of a job's start, gone through while it waits.

A spare is a fork, so the first write to each page it shares with its maker costs it a
copy-on-write fault, 2.7 µs on a 2-core VM; a job's start made about 400 of them, a third
of the worker's part of a start (docs/decisions/0030-a-spare-maker.md). Going through what a
start reads, on the job launched last (its row, its launch environment, its masking, its
command's environment and program, the run's cgroup), takes most of them ahead. Nothing is
written, and a rehearsal that fails costs only a colder start.
"""

from __future__ import annotations

import contextlib
import io

from jobcore.procs import cgroup, cgroup_child
from jobcore.state import launch_env
from jobcore.state.models import Job
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from jobcore.worker.worker import Worker


def rehearse(state: StateDir, store: Store) -> None:
    """Go through the reading half of a start of the job launched last, if there is one."""
    with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
        row = store.conn.execute("SELECT * FROM jobs ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            return
        job = Job.from_row(row)
        worker = Worker(state, job.id, store=store)  # what it says of a bad config is the job's
        worker.launch_env = launch_env.load(state, job.id)
        worker.mask = worker.redactor(job)
        env = worker.command_env(job)
        base = cgroup.tracking().base
        if job.command and base is not None:
            worker.runner(job, log_fd=-1)
            cgroup.JobCgroup(base / job.id).reachable()
            cgroup_child.rehearse(job.command, env)
