"""The worker as a fork of the ``jobcore`` command: no second interpreter, and the same
detached worker a spawned one was (identity, descriptors, stop and kill); a process with
threads still spawns ``python -m jobcore.worker``."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psutil
import pytest

from jobcore.ops import launcher
from jobcore.procs import forking
from jobcore.procs.identity import identity_of
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from tests.conftest import CLI, wait_for


@contextmanager
def a_thread() -> Iterator[None]:
    """One more thread in this process for the duration."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_worker_is_a_fork_of_the_cli_and_recorded_before_run_returns(
    cli: CLI, store: Store
) -> None:
    job_id = cli.run("sleep", "300")
    recorded = store.get(job_id).worker  # written by the CLI itself, before it returned
    assert recorded is not None
    worker = psutil.Process(recorded.pid)
    assert worker.name() == f"jobcore-{job_id}"
    assert "jobcore.worker" not in worker.cmdline()  # no second interpreter was started
    shown = worker.cmdline()  # not the CLI's: its own, cut to the room the CLI's took
    assert shown[:2] == ["jobcore-worker", job_id] and str(cli.home).startswith(shown[2])
    now = identity_of(recorded.pid)
    assert now is not None and now.start == recorded.start
    data = cli.wait_command(job_id)
    assert data["pid"] == recorded.pid
    assert os.getsid(recorded.pid) == recorded.pid != os.getsid(0)
    assert os.readlink(f"/proc/{recorded.pid}/cwd") == str(cli.home)
    cli("kill", job_id)
    assert cli.wait_status(job_id, {"failed"})["reason"] == "killed"
    wait_for(lambda: not psutil.pid_exists(recorded.pid) or worker.status() == "zombie")


def _fds(pid: int) -> dict[str, str]:
    return {fd: os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}


def test_no_descriptor_of_the_cli_reaches_the_worker_or_the_command(cli: CLI) -> None:
    cli("group", "add", "solo", "--parallel", "1")
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    try:
        ids = []
        for opts in ((), ("--group", "solo")):
            proc = subprocess.run(
                [sys.executable, "-m", "jobcore", "run", "-q", *opts, "--", "sleep", "300"],
                pass_fds=(write_end,),  # a descriptor the caller hands down to the CLI
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=True,
            )
            ids.append(proc.stdout.strip())
        plain, grouped = (cli.wait_command(job_id)["command_pid"] for job_id in ids)
        assert sorted(_fds(plain)) == ["0", "1", "2"]
        extra = {fd: target for fd, target in _fds(grouped).items() if fd not in "012"}
        assert len(extra) == 1 and "/slots/solo/" in next(iter(extra.values()))
        os.close(write_end)
        write_end = -1

        def eof() -> bool:  # nobody (CLI, worker or command) still holds the write end
            try:
                return os.read(read_end, 1) == b""
            except BlockingIOError:
                return False

        wait_for(eof)
        for job_id in ids:
            cli("kill", job_id)
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


def test_stop_and_resume_of_a_forked_worker(cli: CLI, tmp_path) -> None:
    script = "if [ -f marker ]; then echo second; exit 0; fi; touch marker; echo first; sleep 300"
    job_id = cli.run("sh", "-c", script, opts=("--cwd", str(tmp_path)))
    cli.wait_command(job_id)
    cli("stop", "--grace", "2", job_id)
    assert cli.show(job_id)["status"] == "paused"
    cli("resume", job_id)
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert data["status"] == "completed"
    log = cli("logs", job_id).stdout.splitlines()
    assert log[0] == "first" and log[-1] == "second"


def test_a_process_with_threads_spawns_the_worker(
    state: StateDir, store: Store, cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forking, "_allowed", True)
    with a_thread():
        assert not forking.safe()
        job = launcher.launch(state, store, ["sleep", "300"])
    data = cli.wait_command(job.id)
    cmdline = psutil.Process(data["pid"]).cmdline()
    assert cmdline[-4:-1] == ["jobcore.worker", str(state.root), job.id]  # then its claim
    cli("kill", job.id)
    assert cli.wait_status(job.id, {"failed"})["reason"] == "killed"


def test_only_a_process_that_allows_it_and_has_one_thread_forks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(forking, "_allowed", False)
    monkeypatch.delenv("JOBCORE_JOB", raising=False)
    assert not forking.safe()  # a library caller's process: never forked
    forking.allow()
    assert forking.safe() is (threading.active_count() == 1)
    with a_thread():
        assert not forking.safe()
    monkeypatch.setattr(forking, "generation", forking.MAX_GENERATIONS)
    assert not forking.safe()  # a fork of a fork of ...: its stack has grown; spawn afresh


FORKS = 150

_FORKER = """
import os, sys, time
from jobcore.procs import forking
os.write(1, b"ready\\n"); sys.stdin.readline()
for n in range(FORKS):
    env = {"JOBCORE_JOB": f"/somewhere/jobs/b{n:04d}", "KEPT": "yes"}
    pid = forking.fork_as(env, ["jobcore-worker", f"b{n:04d}"])
    if pid == 0:
        with open("/proc/self/environ", "rb") as fh:
            seen = fh.read().split(b"\\0")
        ok = seen[0] == f"JOBCORE_JOB=/somewhere/jobs/b{n:04d}".encode() and b"KEPT=yes" in seen
        with open("/proc/self/cmdline", "rb") as fh:
            ok = ok and fh.read().rstrip(b"\\0") == f"jobcore-worker\\0b{n:04d}".encode()
        os._exit(0 if ok and os.environ == env else 1)
    assert os.waitpid(pid, 0)[1] == 0, "the child did not see its own environment"
with open("/proc/self/environ", "rb") as fh:
    assert b"JOBCORE_JOB=/somewhere/jobs/aaaaa" in fh.read().split(b"\\0")
with open("/proc/self/cmdline", "rb") as fh:
    assert fh.read().split(b"\\0")[1] == b"-c"  # the parent's own, untouched
""".replace("FORKS", str(FORKS))


def test_a_fork_of_a_marked_process_never_shows_its_marker() -> None:
    """A worker forked from inside a job, or from a job's worker, is never found by a sweep
    of that job: a scanner reading every process's /proc/PID/environ all through 150 forks
    finds the parent's marker on no process but the parent. Each child shows its own
    command line too, and the parent keeps its own."""
    env = {**os.environ, "JOBCORE_JOB": "/somewhere/jobs/aaaaa"}
    forker = subprocess.Popen(
        [sys.executable, "-c", _FORKER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert forker.stdout is not None and forker.stdin is not None
    forker.stdout.readline()
    seen_on: set[int] = set()
    forker.stdin.write(b"go\n")
    forker.stdin.flush()
    while forker.poll() is None:
        for pid in [int(n) for n in os.listdir("/proc") if n.isdigit()]:
            try:
                with open(f"/proc/{pid}/environ", "rb") as fh:
                    if b"JOBCORE_JOB=/somewhere/jobs/aaaaa" in fh.read().split(b"\0"):
                        seen_on.add(pid)
            except OSError:
                continue
    assert forker.wait() == 0
    assert seen_on <= {forker.pid}


@pytest.mark.parametrize("proc_mem", [True, False], ids=["proc-mem", "ctypes"])
def test_memory_is_rewritten_through_proc_mem_or_else_ctypes(
    monkeypatch: pytest.MonkeyPatch, proc_mem: bool
) -> None:
    """The parent of a fork writes its environ area through /proc/self/mem (no ctypes on
    the command's path); where that file cannot be opened, through ctypes as before."""
    import ctypes

    if not proc_mem:
        real_open = os.open

        def no_proc_mem(path: str, *args: object, **kwargs: object) -> int:
            if path == "/proc/self/mem":
                raise PermissionError(path)
            return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", no_proc_mem)
    buffer = ctypes.create_string_buffer(b"before!", 8)
    address = ctypes.addressof(buffer)
    memory = forking._Memory()
    try:
        assert (memory._fd is not None) is proc_mem
        assert memory.read(address, 7) == b"before!"
        memory.write(address, b"after!!")
    finally:
        memory.close()
    assert buffer.value == b"after!!"
