"""Shared helpers for the benchmarks: private state folders, process cleanup, timing, rows.

Every benchmark works in its own temporary state folder (``temp_home``) and, on the way out
(even after an error), SIGKILLs every process whose argv or environment names that folder,
the way ``tests/conftest.py`` cleans up after a test. Subprocesses get an explicit
environment (``env_for``); ``os.environ`` of the runner is never changed.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(sys.executable).parent
JOBCORE = str(BIN / "jobcore") if (BIN / "jobcore").exists() else shutil.which("jobcore")
"""The console script, as a user types ``jobcore`` (None if it is not installed)."""


def jobcore_argv(*args: str) -> list[str]:
    """argv for the ``jobcore`` command: the console script, else ``python -m jobcore``."""
    if JOBCORE:
        return [JOBCORE, *args]
    return [PYTHON, "-m", "jobcore", *args]


# -- state folders and cleanup ------------------------------------------------------------------


def processes_of(marker: str) -> list[psutil.Process]:
    """Processes (not this one) whose argv or environment mentions ``marker``."""
    found = []
    me = os.getpid()
    for proc in psutil.process_iter(["cmdline"]):
        if proc.pid == me:
            continue
        try:
            if any(marker in part for part in proc.info["cmdline"] or []):
                found.append(proc)
                continue
            with open(f"/proc/{proc.pid}/environ", "rb") as fh:
                if marker.encode() in fh.read():
                    found.append(proc)
        except (OSError, psutil.Error):
            continue
    return found


def kill_all_of(marker: str | os.PathLike[str]) -> int:
    """SIGKILL every process that belongs to a state folder; returns how many were found."""
    killed = 0
    for _ in range(3):
        procs = processes_of(str(marker))
        if not procs:
            break
        killed += len(procs)
        for proc in procs:
            with suppress(psutil.Error):
                proc.send_signal(signal.SIGKILL)
        psutil.wait_procs(procs, timeout=2)
    return killed


@contextmanager
def temp_home(prefix: str = "jcbench-") -> Iterator[Path]:
    """A fresh, private temporary folder; its processes are killed and it is removed after."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    home = root / "state"
    try:
        yield home
    finally:
        kill_all_of(root)
        shutil.rmtree(root, ignore_errors=True)


def env_for(home: Path | None, **extra: str) -> dict[str, str]:
    """A clean environment for a subprocess: this state folder, no job id, no colour."""
    env = dict(os.environ)
    env.pop("JOBCORE_JOB_ID", None)
    env.pop("JOBCORE_HOME", None)
    if home is not None:
        env["JOBCORE_HOME"] = str(home)
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


# -- timing ---------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p95(values: Sequence[float]) -> float:
    """The 95th percentile (nearest rank); the maximum for fewer than 20 values."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(0.95 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def time_once(
    argv: Sequence[str],
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    timeout: float = 60,
) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    """Wall seconds of one run of ``argv`` (stdout captured, stderr discarded); must exit 0."""
    start = time.perf_counter()
    proc = subprocess.run(
        list(argv),
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}"
        )
    return elapsed, proc


def interleaved(
    contenders: dict[str, Callable[[], float]], repeats: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Run each contender ``repeats`` times, round-robin (side by side, same conditions).

    Each callable returns one measurement in seconds; warm-up rounds are discarded.
    """
    results: dict[str, list[float]] = {name: [] for name in contenders}
    for round_no in range(warmup + repeats):
        for name, fn in contenders.items():
            value = fn()
            if round_no >= warmup:
                results[name].append(value)
    return results


def wait_until(predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.01) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        time.sleep(interval)


# -- rows ------------------------------------------------------------------------------------------


def row(
    figure: str,
    jobcore: float,
    unit: str,
    *,
    peer_name: str | None = None,
    peer: float | None = None,
    target: str = "",
    ratio: float | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """One result row; ``ratio`` is jobcore/peer unless given."""
    if ratio is None and peer is not None and peer > 0:
        ratio = jobcore / peer
    result: dict[str, Any] = {
        "figure": figure,
        "jobcore": round(jobcore, 4),
        "peer_name": peer_name,
        "peer": None if peer is None else round(peer, 4),
        "unit": unit,
        "ratio": None if ratio is None else round(ratio, 3),
        "target": target,
    }
    if note:
        result["note"] = note
    return result


def ms(seconds: float) -> float:
    return seconds * 1000.0


# -- state -------------------------------------------------------------------------------------


def open_store(home: Path) -> Any:
    """A Store on ``home`` (created if needed)."""
    from jobcore.state.paths import resolve_home
    from jobcore.state.store import Store

    return Store(resolve_home(home))


def fake_ids(count: int, start: int = 0) -> list[str]:
    """``count`` distinct job ids in jobcore's alphabet (spread over the id space)."""
    from jobcore.state.store import ID_ALPHABET, ID_LENGTH

    base = len(ID_ALPHABET)
    space = base**ID_LENGTH
    step = 7_368_787  # a prime: i * step mod space visits distinct ids
    ids = []
    for i in range(start, start + count):
        n = (i * step + 12_345) % space
        chars = []
        for _ in range(ID_LENGTH):
            n, digit = divmod(n, base)
            chars.append(ID_ALPHABET[digit])
        ids.append("".join(chars))
    return ids


def fill_history(
    home: Path, count: int, name: str | None = None, command: Sequence[str] = ("true",)
) -> float:
    """Insert ``count`` completed jobs straight into the jobs table, in one transaction.

    Returns the seconds it took. The rows look like real finished runs (times, exit code,
    worker identity, progress) so readers decode every column.
    """
    import json

    start = time.perf_counter()
    now = time.time() - count * 2.0
    cmd = json.dumps(list(command))
    rows = []
    for i, job_id in enumerate(fake_ids(count)):
        t = now + i * 2.0
        rows.append(
            (
                job_id,
                name,
                cmd,
                "/tmp",
                "{}",
                "completed",
                t,
                t,
                t + 0.05,
                t + 1.05,
                0,
                100_000 + i % 30_000,
                1000.0 + i,
                "bench-boot",
                100,
                100,
                0,
                "item 100",
                t + 1.0,
            )
        )
    with open_store(home) as store, store.write() as conn:
        conn.executemany(
            "INSERT INTO jobs (id, name, command, cwd, env, status, created_at, queued_at,"
            " started_at, finished_at, exit_code, worker_pid, worker_start, boot_id, total,"
            " done, errors, current_item, progress_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return time.perf_counter() - start


def wait_job_finished(store: Any, job_id: str, timeout: float = 30) -> None:
    """Wait until a job is final and its worker process has exited."""

    def final() -> Any:
        job = store.get(job_id)
        return job if job.status.is_final else None

    try:
        job = wait_until(final, timeout=timeout, interval=0.005)
    except TimeoutError as exc:
        job = store.get(job_id)
        log = store.state.log_path(job_id)
        tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
        alive = job.worker is not None and psutil.pid_exists(job.worker.pid)
        raise TimeoutError(
            f"job {job_id} still {job.status.value} after {timeout}s (worker {job.worker},"
            f" {'alive' if alive else 'gone'}); log: {tail!r}"
        ) from exc
    if job.worker is not None:
        wait_gone(job.worker.pid, timeout)


def wait_gone(pid: int, timeout: float = 30) -> None:
    """Wait until ``pid`` has exited (a zombie counts as gone: it no longer runs)."""

    def gone() -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_until(gone, timeout=timeout, interval=0.005)


def sections(*parts: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Rows of each part; a part that raises becomes one error row and the others still run."""
    rows: list[dict[str, Any]] = []
    for part in parts:
        try:
            rows.extend(part())
        except Exception as exc:
            name = getattr(part, "__name__", "part").strip("_")
            rows.append(
                {
                    "figure": f"{part.__module__.rsplit('.', 1)[-1]}.{name}: ERROR",
                    "jobcore": None,
                    "peer_name": None,
                    "peer": None,
                    "unit": "",
                    "ratio": None,
                    "target": "",
                    "error": f"{type(exc).__name__}: {exc}",
                }
            )
    return rows
