"""Helpers shared by the process-level tests: process identities, trees, jobs made by hand."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import psutil

from jobcore.procs.identity import boot_id, identity_of
from jobcore.state.models import Job, JobStatus
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from tests.conftest import CLI, wait_for
from tests.rows import set_row

Ident = tuple[int, float]
"""A process as psutil proves it: pid and create time."""


def ident(proc: psutil.Process) -> Ident:
    return proc.pid, proc.create_time()


def is_running(pid_and_start: Ident) -> bool:
    """The very process (same pid, same create time) still runs and is not a zombie."""
    pid, start = pid_and_start
    try:
        proc = psutil.Process(pid)
        return abs(proc.create_time() - start) < 0.01 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def descendants(pid: int) -> list[Ident]:
    try:
        return [ident(p) for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def marked(job_id: str) -> list[Ident]:
    """Processes whose environment says they belong to ``job_id`` (the job's whole tree)."""
    marker = f"JOBCORE_JOB_ID={job_id}".encode()
    found = []
    for proc in psutil.process_iter():
        try:
            with open(f"/proc/{proc.pid}/environ", "rb") as fh:
                if marker in fh.read().split(b"\0"):
                    found.append(ident(proc))
        except (OSError, psutil.Error):
            continue
    return found


def workers_of(job_id: str) -> list[psutil.Process]:
    """Live worker processes running ``job_id``: spawned (``python -m jobcore.worker STATE
    ID``) or forked from the CLI (named ``jobcore-ID``)."""
    found = []
    for proc in psutil.process_iter(["cmdline", "name"]):
        try:
            cmd = proc.info["cmdline"] or []
            at = cmd.index("jobcore.worker") if "jobcore.worker" in cmd else -1
            ours = at >= 0 and cmd[at + 2 : at + 3] == [job_id]  # then its claim, its slot
            ours = ours or proc.info["name"] == f"jobcore-{job_id}"
            if ours and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


@contextlib.contextmanager
def foreign_process(argv: Sequence[str] = ("sleep", "300"), **kw) -> Iterator[subprocess.Popen]:
    """A process that belongs to no job and carries no state folder: always killed after."""
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, **kw)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            if kw.get("start_new_session"):
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        proc.wait(timeout=10)


def job_by_hand(
    state: StateDir,
    store: Store,
    command: Sequence[str],
    cwd: str | os.PathLike[str] = "/",
    **fields: object,
) -> Job:
    """A job row plus its folder, as the launcher would make them, but no worker started."""
    job = store.create_job(list(command), str(cwd), {}, None)
    state.make_job_dir(job.id)
    if fields:
        set_row(store, job.id, **fields)
    return store.get(job.id)


def fake_running(store: Store, job_id: str, pid: int, start: float, boot: str | None = None):
    """Make a row claim that ``pid`` (started at ``start`` ticks) is its running worker."""
    set_row(
        store,
        job_id,
        status=JobStatus.RUNNING.value,
        started_at=time.time(),
        worker_pid=pid,
        worker_start=start,
        boot_id=boot_id() if boot is None else boot,
    )


def real_start(pid: int) -> float:
    identity = identity_of(pid)
    assert identity is not None
    return identity.start


def run_worker_sync(
    state: StateDir, job_id: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """``python -m jobcore.worker STATE JOBID CLAIM`` in the foreground, as a starter would
    after claiming the job (``jobcore.ops.dispatch``)."""
    with Store(state) as store, store.write() as conn:
        conn.execute("UPDATE jobs SET claim = 'bytest' WHERE id = ?", (job_id,))
    return subprocess.run(
        [sys.executable, "-m", "jobcore.worker", str(state.root), job_id, "bytest"],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def wait_gone(idents: Sequence[Ident], timeout: float) -> tuple[float, list[Ident]]:
    """Seconds until none of ``idents`` runs (or ``timeout``), and the survivors."""
    start = time.monotonic()
    while True:
        alive = [i for i in idents if is_running(i)]
        elapsed = time.monotonic() - start
        if not alive or elapsed > timeout:
            return elapsed, alive
        time.sleep(0.02)


def commands_running(home: Path) -> int:
    """Live ``sleep`` commands of this state folder's jobs (what a group's limit is about)."""
    marker = f"{home}/jobs/".encode()
    count = 0
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] != "sleep":
            continue
        try:
            with open(f"/proc/{proc.pid}/environ", "rb") as fh:
                if marker in fh.read() and proc.status() != psutil.STATUS_ZOMBIE:
                    count += 1
        except (OSError, psutil.Error):
            continue
    return count


@contextlib.contextmanager
def sampled(measure: Callable[[], int], every: float = 0.05) -> Iterator[list[int]]:
    """``measure()`` taken every ``every`` seconds in a thread for as long as the block runs."""
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while True:
            samples.append(measure())
            if done.wait(every):
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield samples
    finally:
        done.set()
        sampler.join()


def read_log(state: StateDir, job_id: str) -> bytes:
    path: Path = state.log_path(job_id)
    return path.read_bytes() if path.exists() else b""


@contextlib.contextmanager
def mounted(target: Path, *mount_args: str) -> Iterator[Path]:
    """``mount <args> target`` for the test, unmounted after; skips where mounting fails."""
    import pytest

    target.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", *mount_args, str(target)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount here ({proc.stderr.strip() or proc.returncode})")
    try:
        yield target
    finally:
        for _ in range(50):
            if subprocess.run(["umount", str(target)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "-l", str(target)], capture_output=True)


WRITER = r"""
import json, sqlite3, sys, time
from pathlib import Path
from jobcore.base.errors import JobcoreError
from jobcore.state.paths import StateDir
from jobcore.state.store import Store

root, shared, jobs, seconds, go = sys.argv[1:6]
jobs, seconds = int(jobs), float(seconds)
while not Path(go).exists():
    time.sleep(0.002)
store = Store(StateDir(Path(root)))
stats = {"created": 0, "progress": 0, "shared": 0, "locked": 0, "errors": [], "mine": []}
def attempt(fn):
    try:
        fn()
        return True
    except (JobcoreError, sqlite3.Error) as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            stats["locked"] += 1
        else:
            stats["errors"].append(str(exc))
        return False
for _ in range(jobs):
    box = []
    if attempt(lambda: box.append(store.create_job(["true"], "/", {}, "writer"))):
        stats["created"] += 1
        stats["mine"].append(box[0].id)
deadline = time.monotonic() + seconds
i = 0
while stats["mine"] and time.monotonic() < deadline:
    job = stats["mine"][i % len(stats["mine"])]
    if attempt(lambda: store.record_progress(job, advance=1, item=f"item {i}")):
        stats["progress"] += 1
    if attempt(lambda: store.record_progress(shared, advance=1)):
        stats["shared"] += 1
    i += 1
print(json.dumps(stats))
"""
"""A writer process: creates jobs, then records progress on them and on a shared job."""


def run_writers(
    state: StateDir, store: Store, n: int, jobs_each: int, seconds: float, tmp: Path
) -> tuple[list[dict], str, float]:
    """Start ``n`` writer processes at the same instant; their stats, the shared job, time."""
    import json

    shared = job_by_hand(state, store, ["true"]).id
    go = tmp / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                str(state.root),
                shared,
                str(jobs_each),
                str(seconds),
                str(go),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    try:
        time.sleep(0.3)  # let every interpreter start and wait at the line
        started = time.monotonic()
        go.write_text("go")
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=seconds + 60)
            assert proc.returncode == 0, err
            results.append(json.loads(out))
        return results, shared, time.monotonic() - started
    finally:
        for proc in procs:
            proc.kill()


def wait_stopped(
    db: Path, job_id: str, idents: Sequence[Ident], timeout: float
) -> tuple[float | None, float, list[Ident]]:
    """Poll until none of ``idents`` runs. Returns (seconds from the moment the stop request
    reached the job's row to the last one gone, or None if never seen; seconds from the call;
    survivors). Timing from the request leaves out the CLI's own start-up on a busy machine."""
    import sqlite3

    start = time.monotonic()
    requested: float | None = None
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        while True:
            now = time.monotonic()
            if requested is None:
                row = conn.execute(
                    "SELECT stop_request, status FROM jobs WHERE id = ?", (job_id,)
                ).fetchone()
                if row is not None and (row[0] is not None or row[1] not in ("queued", "running")):
                    requested = now
            alive = [i for i in idents if is_running(i)]
            if not alive or now - start > timeout:
                since = None if requested is None else now - requested
                return since, now - start, alive
            time.sleep(0.01)
    finally:
        conn.close()


def skip_without_cgroup2() -> None:
    """Skip unless a cgroup v2 child can be made here (root, with cgroup2 mounted)."""
    import pytest

    if os.environ.get("JOBCORE_CGROUP", "").lower() in ("0", "off", "no", "false"):
        pytest.skip("cgroups turned off by JOBCORE_CGROUP")
    mounts = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as fh:
        mounts = [line.split()[4] for line in fh if " - cgroup2 " in line]
    if not mounts:
        pytest.skip("no cgroup v2 mounted here: jobs are tracked by tree + marker")
    probe = Path(mounts[0]) / f"jobcore-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        pytest.skip(f"cgroup v2 at {mounts[0]} is not writable here ({exc.strerror})")


ESCAPEE = (
    "import os, signal, sys, time\n"
    "pidfile, home, mode = sys.argv[1:4]\n"
    "if mode == 'ignore-term':\n"
    "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "if mode == 'daemon' and os.fork():\n"
    "    os._exit(0)\n"
    "open(pidfile + '.tmp', 'w').write(str(os.getpid()))\n"
    "os.rename(pidfile + '.tmp', pidfile)\n"
    "time.sleep(300)\n"
)
"""A process that cleared its environment and left the session, then says who it is.
``mode``: ``plain``, ``ignore-term`` (SIGTERM ignored) or ``daemon`` (forks, parent exits)."""


def escapee_line(pidfile: Path, home: Path, mode: str = "plain") -> str:
    """A shell line starting a grandchild that escapes with ``env -i`` and ``setsid``.

    The state folder is in the escapee's argv (not its environment, which is empty) so test
    teardown still finds it; the pid file lets the test watch it.
    """
    import shlex

    argv = ["env", "-i", "setsid", sys.executable, "-c", ESCAPEE, str(pidfile), str(home), mode]
    return f"{shlex.join(argv)} &\n"


def escapee_script(pidfile: Path, home: Path) -> str:
    """A job command: one escapee, then a long sleep of its own."""
    return escapee_line(pidfile, home) + "sleep 300\n"


def read_escapee(pidfile: Path, timeout: float = 20) -> Ident:
    """The escapee's identity, once it has written its pid."""
    deadline = time.monotonic() + timeout
    while not pidfile.exists():
        if time.monotonic() > deadline:
            raise AssertionError("the escapee never wrote its pid")
        time.sleep(0.02)
    return ident(psutil.Process(int(pidfile.read_text())))


LOCK_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
"""
"""A process that takes the write lock and keeps it until told (a frozen writer, a shell)."""


class Burst(NamedTuple):
    """What a burst of ``jobcore run`` left: each run, the id it printed, the jobs made
    (all ended), and how many times each job's command started."""

    runs: list[subprocess.CompletedProcess[str]]
    printed: list[str]
    made: set[str]
    started: Counter[str]


def burst_under_attack(
    cli: CLI, store: Store, folder: Path, launches: int, attack: Callable[[threading.Event], None]
) -> Burst:
    """``launches`` runs of a command that notes its job's id, one after another, while
    ``attack`` runs in a thread until told to stop; returns once every job made has ended."""
    starts = folder / "starts.txt"
    starts.touch()
    script = f'echo "$JOBCORE_JOB_ID" >> {starts}'
    before = {job.id for job in store.list_jobs()}
    stop = threading.Event()
    attacker = threading.Thread(target=attack, args=(stop,))
    attacker.start()
    try:
        runs = [cli("run", "-q", "--", "sh", "-c", script, check=False) for _ in range(launches)]
    finally:
        stop.set()
        attacker.join()
    made = {job.id for job in store.list_jobs()} - before
    wait_for(lambda: all(store.get(i).status.is_final for i in made), timeout=60)
    printed = [run.stdout.strip() for run in runs]
    return Burst(runs, printed, made, Counter(starts.read_text().split()))
