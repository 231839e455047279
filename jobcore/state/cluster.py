"""Where a batch runs when it runs on a Dask cluster: its scheduler, settled before a job
exists, and what the driver tells ``show`` about its workers.

Light on purpose: the CLI imports this, never Dask (about a second to import); Dask itself
is only loaded by the job's worker (the driver).
"""

from __future__ import annotations

import importlib.util
import json
import os
from typing import TYPE_CHECKING, Any

from jobcore.base.addresses import LOCAL, check_address, check_reachable
from jobcore.base.errors import JobcoreError, UsageError

if TYPE_CHECKING:
    from jobcore.state.models import BatchSpec, Job
    from jobcore.state.paths import StateDir

WHERE_NAME = "cluster.json"
"""The driver's note of where items run, in the job's folder (for ``show``)."""


def resolve(batch: BatchSpec, state: StateDir) -> BatchSpec:
    """The batch with its cluster settled: the one given, else ``config set cluster``
    (``local`` undoes that); the scheduler reachable and Dask installed, or an error now,
    before anything is created."""
    address = batch.cluster
    if address is None:
        from jobcore.state import config

        try:
            address = config.load(state)["cluster"]
        except JobcoreError:
            address = None  # a broken config is the worker's to report
    if address is None or address == LOCAL:
        return batch._replace(cluster=None)
    address = check_address(address)
    if batch.processes:
        raise UsageError("--processes has no meaning on a cluster (each Dask worker is one)")
    if importlib.util.find_spec("distributed") is None:
        raise JobcoreError(
            f"--cluster {address} needs Dask on this machine: pip install 'jobcore[dask]'"
        )
    check_reachable(address)
    return batch._replace(cluster=address)


def write_where(state: StateDir, job_id: str, data: dict[str, Any]) -> None:
    """The driver's note of its cluster and items per worker (atomic: ``show`` reads it)."""
    from jobcore.state.atomic import write_bytes

    path = state.job_dir(job_id) / WHERE_NAME
    write_bytes(path, json.dumps(data, sort_keys=True).encode(), durable=False, root=state.root)


def read_where(state: StateDir, job_id: str) -> dict[str, Any] | None:
    """What the driver last noted (None before it connected, or if the note is unreadable)."""
    from jobcore.state.paths import open_private

    try:
        fd = open_private(state.job_dir(job_id) / WHERE_NAME, os.O_RDONLY, state.root)
    except (OSError, JobcoreError):
        return None
    with os.fdopen(fd, "rb") as fh:
        try:
            data = json.loads(fh.read())
        except ValueError:
            return None
    return data if isinstance(data, dict) else None


def where_items_run(state: StateDir, job: Job) -> dict[str, Any]:
    """A cluster batch's address and items per worker (ran, running), for ``show``."""
    address = str(job.spec["cluster"])
    where = read_where(state, job.id)
    ok = where is not None and where.get("address") == address
    workers = where.get("workers") if ok and where is not None else None
    return {"address": address, "workers": workers if isinstance(workers, dict) else {}}


def describe(where: dict[str, Any]) -> str:
    """``where_items_run`` on one line: the cluster and what each worker ran and runs."""
    parts = []
    for name, counts in sorted(where["workers"].items()):
        if not isinstance(counts, dict):
            continue
        ran, now = counts.get("ran", 0), counts.get("running", 0)
        parts.append(f"{name} {ran} ran" + (f", {now} running" if now else ""))
    return f"{where['address']} ({'; '.join(parts)})" if parts else where["address"]
