"""What runs on a Dask worker for a jobcore batch: items as tasks, and their explicit stop.

Imported by the Dask workers (jobcore must be installed there, as the ``--call`` function's
package must), never by the CLI. Nothing here touches the state database: results, output and
errors go back to the driver (the job's worker on the launching machine), which keeps the
ledger and the log.

A shell item runs in a session (and process group) of its own. Cancelling a Dask future does
not stop a subprocess its task started, so each running item is registered here by job and
run, and ``signal_items`` (sent to every worker with ``Client.run``) signals the item's group
and the descendants seen when the stop began: the way a local stop treats an item's tree.
Its output goes back with its end; while it runs longer than ``CHUNK_S``, in chunks before
it. Both are Dask events on the run's topic, sent from the task's thread, so they reach the
driver in the order they were sent, pushed by the scheduler: the driver never asks for a
result (a round trip to the scheduler and the worker per item). The task returns nothing.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from typing import Any

from jobcore.base.current_item import ENV_ITEM

CHUNK_S = 1.0
"""An item's output is shipped in chunks every this many seconds while it runs."""
MAX_CHUNK = 64 * 1024
"""Output held back before a chunk goes anyway (the scheduler keeps a topic's last 1,000
events until the driver closes the run)."""


class _Item:
    """A shell item's process while it runs on this worker."""

    __slots__ = ("proc", "run", "snapshot")

    def __init__(self, run: str, proc: subprocess.Popen[bytes]) -> None:
        self.run = run
        self.proc = proc
        self.snapshot: list[Any] = []
        """Its descendants as seen when a stop began (psutil processes): a grandchild that
        left the group is still signalled."""


_lock = threading.Lock()
_items: dict[str, dict[tuple[str, int], _Item]] = {}
"""Running shell items by job marker, then by (run, item index)."""
_stopping: set[str] = set()
"""Runs being stopped: an item of theirs that starts now returns at once, unrun."""


def _worker_address() -> str:
    from distributed import get_worker

    try:
        return str(get_worker().address)
    except ValueError:  # not inside a Dask worker (a direct call)
        return "local"


def _emit(topic: str, msg: dict[str, Any]) -> None:
    from distributed import get_worker

    with contextlib.suppress(ValueError):
        get_worker().log_event(topic, msg)


def _end(topic: str, run: str, idx: int, attempt: int, reply: dict[str, Any]) -> None:
    """Send how an item's attempt ended, after all of its output."""
    _emit(topic, {"run": run, "idx": idx, "attempt": attempt, "end": reply})


def ping() -> str:
    """Proves jobcore is importable on a worker (``Client.run`` of this)."""
    return "ok"


def run_shell(
    job: str,
    run: str,
    idx: int,
    attempt: int,
    argv: list[str],
    env: dict[str, str],
    cwd: str,
    topic: str,
) -> None:
    """Run one shell item; its end (exit code, where it ran, output not yet shipped) goes
    to the driver on ``topic``.

    ``env`` goes on top of the worker's own environment (the job's ``--env`` and markers):
    the launching machine's PATH means nothing on another host.
    """
    _end(topic, run, idx, attempt, _shell(job, run, idx, argv, env, cwd, topic))


def _shell(
    job: str, run: str, idx: int, argv: list[str], env: dict[str, str], cwd: str, topic: str
) -> dict[str, Any]:
    where = _worker_address()
    if run in _stopping:
        return {"interrupted": True, "worker": where}
    if not os.path.isdir(cwd):
        return {"error": f"cwd {cwd} does not exist on Dask worker {where}", "worker": where}
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **env, ENV_ITEM: str(idx)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except FileNotFoundError:
        return {"error": f"command not found: {argv[0]} (on {where})", "worker": where}
    except OSError as exc:
        return {"error": f"{exc.strerror}: {argv[0]} (on {where})", "worker": where}
    entry = _Item(run, proc)
    with _lock:
        _items.setdefault(job, {})[(run, idx)] = entry
        stopping = run in _stopping
    if stopping:  # a stop came between the first look and the registration
        _signal(entry, signal.SIGKILL)
    try:
        tail, chunks = _pump(proc, topic, run, idx)
        code = proc.wait()
    finally:
        with _lock:
            mine = _items.get(job, {})
            mine.pop((run, idx), None)
            if not mine:
                _items.pop(job, None)
    return {"code": code, "tail": tail, "chunks": chunks, "worker": where}


def _pump(proc: subprocess.Popen[bytes], topic: str, run: str, idx: int) -> tuple[bytes, int]:
    """Read the item's output until it ends; ship it in numbered chunks while it runs long.

    Returns what was not shipped and how many chunks were. Something the item left behind
    holding the pipe after it exited is not waited for beyond a second.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    held: list[bytes] = []
    size = chunks = 0
    next_ship = time.monotonic() + CHUNK_S
    exited_at: float | None = None
    while True:
        now = time.monotonic()
        if exited_at is None and proc.poll() is not None:
            exited_at = now
        if exited_at is not None and now - exited_at > 1.0:
            break
        ready, _, _ = select.select([fd], [], [], max(0.0, min(0.5, next_ship - now)))
        if ready:
            data = os.read(fd, 65536)
            if not data:
                break
            held.append(data)
            size += len(data)
        if held and (size >= MAX_CHUNK or time.monotonic() >= next_ship):
            _emit(topic, {"run": run, "idx": idx, "seq": chunks, "data": b"".join(held)})
            chunks += 1
            held, size = [], 0
        if time.monotonic() >= next_ship:
            next_ship = time.monotonic() + CHUNK_S
    proc.stdout.close()
    return b"".join(held), chunks


def signal_items(job: str, sig: int, run: str | None = None, spare: str | None = None) -> int:
    """Signal this worker's running items of ``job`` (only ``run``'s, or all but ``spare``'s);
    how many were signalled. A SIGTERM also marks ``run`` as stopping, so none of its items
    starts here afterwards. Sent by the driver with ``Client.run``."""
    with _lock:
        if run is not None and sig != signal.SIGKILL:
            _stopping.add(run)
        entries = [
            e
            for (r, _), e in _items.get(job, {}).items()
            if (run is None or r == run) and r != spare
        ]
    for entry in entries:
        _signal(entry, sig)
    return len(entries)


def forget_run(run: str) -> None:
    """The driver is done with ``run``: its stopping mark goes."""
    with _lock:
        _stopping.discard(run)


def _signal(entry: _Item, sig: int) -> None:
    """Signal an item's process group and its descendants (snapshot taken at the first
    signal), while it is still ours: not yet collected, so its pid cannot be reused."""
    import psutil

    if entry.proc.poll() is not None:
        # The item exited; what it left in its group is still the job's.
        with contextlib.suppress(OSError):
            os.killpg(entry.proc.pid, sig)
        return
    if not entry.snapshot:
        with contextlib.suppress(psutil.Error):
            entry.snapshot = psutil.Process(entry.proc.pid).children(recursive=True)
    with contextlib.suppress(OSError):
        os.killpg(entry.proc.pid, sig)
    for child in entry.snapshot:
        with contextlib.suppress(psutil.Error):
            child.send_signal(sig)  # psutil checks the child is the one it saw


def check_call(target: str, cwd: str) -> str | None:
    """Why ``target`` cannot be called on this worker (None: it can)."""
    from jobcore.base.errors import JobcoreError
    from jobcore.worker.calls import resolve

    try:
        resolve(target, cwd)
    except JobcoreError as exc:
        return str(exc)
    return None


class _Capture(io.TextIOBase):
    """Stands for ``sys.stdout``/``sys.stderr`` in a Dask worker: what a thread running a
    ``--call`` item writes is kept for its item; every other thread writes through."""

    def __init__(self, through: Any) -> None:
        self.through = through

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        buf = getattr(_calls, "buf", None)
        if buf is None:
            return int(self.through.write(text))
        buf.append(text)
        return len(text)

    def flush(self) -> None:
        if getattr(_calls, "buf", None) is None:
            self.through.flush()


_calls = threading.local()
_captured = False


def _capture_output() -> None:
    global _captured
    with _lock:
        if not _captured:
            sys.stdout, sys.stderr = _Capture(sys.stdout), _Capture(sys.stderr)
            _captured = True


def run_call(
    run: str, target: str, cwd: str, item: str, idx: int, attempt: int, topic: str
) -> None:
    """Call ``target`` on one item; its JSON result, or its error, with what it printed,
    go to the driver on ``topic``."""
    _end(topic, run, idx, attempt, _call(run, target, cwd, item, idx))


def _call(run: str, target: str, cwd: str, item: str, idx: int) -> dict[str, Any]:
    import json

    from jobcore.base import current_item
    from jobcore.base.errors import JobcoreError, Pause
    from jobcore.worker.calls import _resolved

    where = _worker_address()
    if run in _stopping:
        return {"interrupted": True, "worker": where}
    _capture_output()
    out: list[str] = []
    _calls.buf = out
    current_item.set_index(idx)
    reply: dict[str, Any] = {"worker": where}
    try:
        result = _resolved(target, cwd)(item)
        reply["result"] = None if result is None else json.dumps(result, default=str)
    except JobcoreError as exc:  # the target cannot be imported here
        reply["error"] = f"{exc} (on Dask worker {where})"
    except Pause as exc:
        reply["pause"] = [exc.reason, exc.retry_after]
    except BaseException as exc:
        out.append(traceback.format_exc())
        reply["error"] = f"{type(exc).__name__}: {exc}".strip()[:500]
    finally:
        _calls.buf = None
        current_item.set_index(None)
    reply["tail"] = "".join(out).encode("utf-8", "surrogateescape")
    return reply
