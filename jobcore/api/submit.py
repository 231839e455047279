"""``jobcore.submit()``: a Python batch as a detached job, from a script."""

from __future__ import annotations

from collections.abc import Iterable

from jobcore.ops.launcher import launch
from jobcore.state.models import BatchSpec
from jobcore.state.paths import resolve_home
from jobcore.state.store import Store


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
