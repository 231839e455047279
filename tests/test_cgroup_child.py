"""A command cloned straight into its cgroup starts as ``subprocess.Popen`` would start it:
same descriptors, same signal state, same errors; and where cloning is not safe or not
allowed the caller is told to fall back to Popen.

Each scenario runs in a fresh, single-threaded Python, as a worker is: pytest's own workers
have threads, which ``start`` rightly refuses.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobcore.procs import cgroup, cgroup_child
from tests.reliability.support import skip_without_cgroup2

REPO = Path(__file__).resolve().parent.parent
LISTING = ["sh", "-c", "ls /proc/self/fd; grep -E '^Sig(Blk|Ign|Cgt)' /proc/self/status"]


@pytest.fixture
def group(tmp_path: Path) -> Iterator[str]:
    """A scratch cgroup under jobcore's base, emptied and removed afterwards."""
    skip_without_cgroup2()
    base = cgroup.tracking().base
    assert base is not None
    path = base / f"test-{os.getpid()}-{tmp_path.name}"
    path.mkdir()
    yield str(path)
    cgroup.JobCgroup(path).stop(0)
    path.rmdir()


def exit_of(child: cgroup_child.Child, timeout: float = 10) -> int | None:
    """The child's exit code once it has ended (None if it runs past ``timeout``)."""
    deadline = time.monotonic() + timeout
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    return child.returncode


def fresh(scenario: str, *args: Any) -> Any:
    """``scenario(*args)`` of this module, run in a fresh Python; what it returned."""
    code = (
        "import json, sys\n"
        f"from tests.test_cgroup_child import {scenario} as f\n"
        "print(json.dumps(f(*json.loads(sys.argv[1]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def start_and_read(
    group: str, argv: list[str], cwd: str = "/", env: dict[str, str] | None = None, keep: int = -1
) -> dict[str, Any]:
    """Scenario: start ``argv`` in ``group``, stdout and stderr a pipe; its exit and output,
    or the error ``start`` raised."""
    read_fd, write_fd = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        child = cgroup_child.start(
            argv,
            cgroup=group,
            cwd=cwd,
            env=dict(os.environ, **(env or {})),
            stdio=(null, write_fd, write_fd),
            pass_fds=() if keep < 0 else (keep,),
        )
    except OSError as exc:
        return {"error": type(exc).__name__, "filename": exc.filename}
    finally:
        os.close(write_fd)
        os.close(null)
    if child is None:
        return {"fallback": True}
    with os.fdopen(read_fd, "rb") as out:
        text = out.read().decode()
    return {"code": exit_of(child), "out": text}


def with_descriptors(group: str) -> dict[str, Any]:
    """Scenario: a kept descriptor and a stray inheritable one; the listing from each way
    of starting."""
    keep = os.open(os.devnull, os.O_RDONLY)
    stray = os.dup2(keep, 50)  # inheritable
    ours = start_and_read(group, LISTING, keep=keep)
    popen = subprocess.run(
        LISTING, stdin=subprocess.DEVNULL, capture_output=True, pass_fds=(keep,), check=True
    )
    return {"ours": ours["out"], "popen": popen.stdout.decode(), "keep": keep, "stray": stray}


def polling(group: str) -> dict[str, Any]:
    """Scenario: ``poll`` on a running command, then after its death by SIGKILL."""
    null = os.open(os.devnull, os.O_RDWR)
    child = cgroup_child.start(
        ["sleep", "60"], cgroup=group, cwd="/", env=dict(os.environ), stdio=(null,) * 3
    )
    assert child is not None
    running = exit_of(child, 0.05) is None
    os.kill(child.pid, signal.SIGKILL)
    return {"running": running, "code": exit_of(child), "again": child.poll()}


def refused(group: str) -> dict[str, Any]:
    """Scenario: the kernel (or a seccomp filter) refuses ``clone3``."""

    def no_clone3(_fd: int) -> int:
        raise OSError(errno.ENOSYS, "clone3 is filtered here")

    cgroup_child._clone_into = no_clone3  # type: ignore[assignment]
    return start_and_read(group, ["true"])


def threaded(group: str) -> dict[str, Any]:
    """Scenario: another thread runs in the caller."""
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        return start_and_read(group, ["true"])
    finally:
        stop.set()
        thread.join()


def parent_state(group: str) -> dict[str, Any]:
    """Scenario: the caller's signal mask and collector afterwards."""
    import gc

    before = sorted(signal.pthread_sigmask(signal.SIG_BLOCK, []))
    result = start_and_read(group, ["true"])
    after = sorted(signal.pthread_sigmask(signal.SIG_BLOCK, []))
    return {"code": result["code"], "same_mask": before == after, "gc": gc.isenabled()}


def test_the_command_is_born_in_the_cgroup(group: str) -> None:
    result = fresh("start_and_read", group, ["cat", "/proc/self/cgroup"])
    mount = cgroup._v2_mount()
    assert mount is not None
    assert result["code"] == 0
    assert f"0::/{Path(group).relative_to(mount[0])}\n" in result["out"]


def test_descriptors_and_signals_are_those_popen_gives(group: str) -> None:
    result = fresh("with_descriptors", group)
    assert result["ours"] == result["popen"]
    fds = {int(line) for line in result["ours"].splitlines() if line.isdigit()}
    assert result["keep"] in fds and result["stray"] not in fds


def test_environment_and_folder(group: str, tmp_path: Path) -> None:
    result = fresh(
        "start_and_read", group, ["sh", "-c", 'echo "$FOO"; pwd'], str(tmp_path), {"FOO": "b a r"}
    )
    assert result == {"code": 0, "out": f"b a r\n{tmp_path}\n"}


@pytest.mark.parametrize(
    ("program", "mode", "error"),
    [("no-such-program-here", None, FileNotFoundError), ("plain", 0o644, PermissionError)],
)
def test_a_command_that_cannot_start_raises_as_popen_does(
    group: str, tmp_path: Path, program: str, mode: int | None, error: type[OSError]
) -> None:
    argv = [program]
    if mode is not None:
        (tmp_path / program).write_text("#!/bin/sh\n")
        (tmp_path / program).chmod(mode)
        argv = [str(tmp_path / program)]
    assert fresh("start_and_read", group, argv)["error"] == error.__name__
    with pytest.raises(error):
        subprocess.run(argv, check=False)
    assert not cgroup.JobCgroup(Path(group)).pids()  # the failed child is gone


def test_a_missing_folder_raises_with_its_name(group: str, tmp_path: Path) -> None:
    gone = str(tmp_path / "gone")
    assert fresh("start_and_read", group, ["true"], gone) == {
        "error": "FileNotFoundError",
        "filename": gone,
    }


def test_exit_codes_and_signals(group: str) -> None:
    assert fresh("start_and_read", group, ["sh", "-c", "exit 7"])["code"] == 7
    killed = fresh("start_and_read", group, ["sh", "-c", "kill -TERM $$"])
    assert killed["code"] == -signal.SIGTERM


def test_poll_sees_the_end_once_and_keeps_it(group: str) -> None:
    assert fresh("polling", group) == {
        "running": True,
        "code": -signal.SIGKILL,
        "again": -signal.SIGKILL,
    }


@pytest.mark.parametrize("scenario", ["refused", "threaded"])
def test_where_cloning_is_refused_or_unsafe_the_caller_falls_back(
    group: str, scenario: str
) -> None:
    assert fresh(scenario, group) == {"fallback": True}


def test_the_caller_keeps_its_signal_mask_and_collector(group: str) -> None:
    assert fresh("parent_state", group) == {"code": 0, "same_mask": True, "gc": True}


def test_reachable_asks_the_lowest_cgroup_above_both(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the worker's cgroup and its job's meet only in one it may not write, it cannot
    start a child in its job's cgroup, and settles in jobcore/workers first."""
    mount = Path("/sys/fs/cgroup")
    asked: list[str] = []
    monkeypatch.setattr(cgroup, "_v2_mount", lambda: (mount, "/"))
    monkeypatch.setattr(cgroup, "_own_cgroup", lambda: "/user.slice/session-3.scope")
    monkeypatch.setattr(os, "access", lambda path, mode: asked.append(str(path)) or False)
    job = cgroup.JobCgroup(mount / "user.slice/user@1000.service/jobcore/f-abc-1")
    assert not job.reachable()
    assert asked == ["/sys/fs/cgroup/user.slice/cgroup.procs"]
