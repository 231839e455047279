"""``jobcore run`` hands its launch to the live dispatcher of its state folder.

Every test drives the real ``python -m jobcore`` as a user would
(docs/decisions/0028-hand-the-launch-to-the-dispatcher.md). Two ways to tell who launched:

- ``python -X importtime``: the interpreter lists every module it imported on stderr (the
  lines are taken out again before stderr is compared). A run answered by the dispatcher
  never imports ``jobcore.cli.main``; one launched by the CLI itself always does.
- while a job's worker runs (``sleep 30``), a handed-off job's worker is a child of the
  dispatcher (``python -m jobcore.ops.dispatcher STATE``); a worker forked by the CLI is
  reparented away as soon as that CLI exits.

Most tests keep a dispatcher for their whole length with a job that waits an hour (``pin``);
after each test everything of the state folder is killed (``stop_all_of``, then the ``home``
fixture's own sweep).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from jobcore.base.handoff import MAX_REQUEST, PROTOCOL, SOCKET_NAME, Request, build, pack
from jobcore.cli.run_service import launch_request
from jobcore.ops.dispatch import LINGER_S
from jobcore.ops.launch_socket import REQUEST_TIMEOUT_S
from jobcore.procs.identity import identity_of
from jobcore.state import launch_env
from jobcore.state.atomic import write_json
from jobcore.state.models import ProcessIdentity
from jobcore.state.paths import StateDir, resolve_home
from jobcore.state.store import Store
from tests.conftest import _processes_of, dispatchers_of, wait_for

DISPATCHER = "jobcore.ops.dispatcher"
FULL_CLI = "jobcore.cli.main"
"""Imported by every ``jobcore`` the CLI runs itself, never by one a dispatcher answered."""


@dataclass(frozen=True)
class Ran:
    """A finished ``jobcore``: its exit code, stdout, stderr (without the import lines) and
    the modules it imported."""

    code: int
    out: str
    err: str
    imported: frozenset[str]

    @property
    def handed_off(self) -> bool:
        return FULL_CLI not in self.imported

    @property
    def job_id(self) -> str:
        assert self.code == 0, f"exit {self.code}: {self.err}"
        assert self.out.endswith("\n") and self.out.count("\n") == 1, self.out
        return self.out.strip()


def jobcore(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    wrapper: Sequence[str] = (),
) -> Ran:
    """``[wrapper...] python -X importtime -m jobcore ARGS`` to its end."""
    proc = subprocess.run(
        [*wrapper, sys.executable, "-X", "importtime", "-m", "jobcore", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    imported, err = set(), []
    for line in proc.stderr.splitlines(keepends=True):
        if line.startswith("import time:"):
            imported.add(line.rsplit("|", 1)[-1].strip())
        else:
            err.append(line)
    return Ran(proc.returncode, proc.stdout, "".join(err), frozenset(imported))


def _alive(proc: psutil.Process) -> bool:
    """Running, not a zombie (an orphan's parent here may be slow to reap it)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited and been reaped (or is a zombie)."""
    try:
        return not _alive(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return True


def stop_all_of(home: Path) -> None:
    """SIGKILL every process of the state folder and wait until each is dead. The ``home``
    fixture does it too, then also waits for them to be reaped, which takes this machine's
    init about a second; dead ones no longer count as the folder's, so it has none left."""
    procs = _processes_of(home)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    wait_for(lambda: not any(_alive(proc) for proc in procs), timeout=10)


@pytest.fixture(autouse=True)
def _stopped(home: Path) -> Iterator[None]:
    yield
    stop_all_of(home)


def dispatchers(home: Path) -> list[psutil.Process]:
    """The live dispatchers of ``home``: not a zombie, nor a child it has just forked."""
    return [proc for proc in dispatchers_of(home) if _alive(proc)]


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.lstat().st_mode)
    except FileNotFoundError:
        return False


def live_dispatcher(home: Path) -> psutil.Process:
    """The one dispatcher of ``home``, once its socket is bound."""

    def ready() -> psutil.Process | None:
        found = dispatchers(home)
        return found[0] if len(found) == 1 and _is_socket(home / SOCKET_NAME) else None

    return wait_for(ready, timeout=30)


def pin(home: Path, env: dict[str, str] | None = None) -> psutil.Process:
    """A dispatcher that stays for the test: a job waits an hour."""
    ran = jobcore("run", "-q", "--delay", "1h", "--", "true", env=env)
    assert ran.code == 0, ran.err
    return live_dispatcher(home)


def probing_job(probe: str, seen: Path, **how: Any) -> Ran:
    """``jobcore run`` of a job that writes what the shell line ``probe`` prints to ``seen``
    (whole, by a rename: read it with ``read_when_written``), then sleeps 30 s."""
    line = f'{probe} > "$0.tmp"; mv "$0.tmp" "$0"; exec sleep 30'
    return jobcore("run", "-q", "--", "sh", "-c", line, str(seen), **how)


def worker_of(store: Store, job_id: str) -> int:
    return wait_for(lambda: (worker := store.get(job_id).worker) is not None and worker.pid)


def starter_of(store: Store, job_id: str) -> int:
    """The pid of the process that started the job's worker (it claimed the job to start it;
    the worker may be a fork of it, or a spare of its spare maker's)."""
    worker_of(store, job_id)
    row = store.conn.execute("SELECT claimer_pid FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return int(row["claimer_pid"])


def job_count(store: Store) -> int:
    return int(store.conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


def wait_ended(store: Store, job_ids: Sequence[str], status: str = "completed") -> None:
    wait_for(lambda: all(store.get(j).status.value == status for j in job_ids), timeout=30)


def read_when_written(path: Path) -> str:
    return wait_for(lambda: path.exists() and path.read_text().endswith("\n") and path.read_text())


@contextlib.contextmanager
def folder_fd(folder: Path) -> Iterator[int]:
    """A descriptor of ``folder``: sockets in it are bound and reached as
    /proc/self/fd/N/NAME, as jobcore does (a socket's path may be no longer than 107 bytes,
    and pytest's folders are long)."""
    fd = os.open(folder, os.O_PATH | os.O_DIRECTORY)
    try:
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def connection(home: Path) -> Iterator[socket.socket]:
    """A client's connection to the dispatcher's socket of ``home``."""
    with folder_fd(home) as fd, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(f"/proc/self/fd/{fd}/{SOCKET_NAME}")
        yield sock


def read_to_end(sock: socket.socket) -> bytes:
    chunks = []
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def ask(home: Path, payload: bytes | None, *, read: bool = True) -> bytes:
    """Send ``payload`` (None: nothing, and the writing end stays open: a stalled client),
    then read the reply to its end (``read=False``: leave at once, the reply unread)."""
    with connection(home) as sock:
        if payload is not None:
            with contextlib.suppress(OSError):  # a dispatcher may stop reading (MAX_REQUEST)
                sock.sendall(payload)
                sock.shutdown(socket.SHUT_WR)
        return read_to_end(sock) if read else b""


def request_fields(
    token: str, cwd: str, argv: Sequence[str], env: dict[str, str] | None = None
) -> list[str]:
    """The fields of a ``jobcore-run/1`` request, to send as they are or spoilt."""
    variables = [f"{k}={v}" for k, v in (env or {}).items()]
    return [PROTOCOL, build(), token, cwd, str(len(argv)), *argv, *variables]


# 1 ---------------------------------------------------------------------------------------


def test_a_loop_of_runs_is_handed_to_the_dispatcher(home: Path, store: Store) -> None:
    first = jobcore("run", "-q", "--", "true")
    second = jobcore("run", "-q", "--", "true")
    assert first.code == second.code == 0, (first.err, second.err)
    # no dispatcher before; the second, quick after the first, starts one
    assert not first.handed_off and not second.handed_off
    dispatcher = live_dispatcher(home)

    third = jobcore("run", "--", "sleep", "30")
    job_id = third.job_id
    assert third.code == 0
    assert third.out == f"{job_id}\n"
    assert third.err == (
        f"started job {job_id}: watch it with `jobcore attach {job_id}` or `jobtui`\n"
    )
    assert third.handed_off
    assert starter_of(store, job_id) == dispatcher.pid

    quiet = jobcore("run", "-q", "--", "sleep", "30")
    assert (quiet.code, quiet.err, quiet.out) == (0, "", f"{quiet.job_id}\n")
    assert quiet.handed_off
    assert starter_of(store, quiet.job_id) == dispatcher.pid
    wait_for(lambda: store.get(job_id).status.value == "running")


# 2 ---------------------------------------------------------------------------------------

TOOL = """#!/bin/sh
printf '%s|%s|%s|%s\\n' "${ONLY_CALLER-unset}" "${ONLY_DISPATCHER-unset}" "${K-unset}" \
    "$(pwd -P)" > "$1.tmp"
mv "$1.tmp" "$1"
exec sleep 30
"""


def test_the_handed_off_job_has_the_callers_environment_and_folder(
    home: Path, store: Store, tmp_path: Path
) -> None:
    dispatcher = pin(home, env={**os.environ, "ONLY_DISPATCHER": "d"})
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "tool.sh").write_text(TOOL)
    (work / "tool.sh").chmod(0o755)
    caller = {**os.environ, "ONLY_CALLER": "c"}
    here, there = tmp_path / "here.txt", tmp_path / "there.txt"

    # a program named relative to the caller's folder, a variable only the caller has, --env
    plain = jobcore("run", "-q", "--env", "K=V", "--", "./tool.sh", str(here), env=caller, cwd=work)
    # --cwd relative to the caller's folder (the dispatcher's own is the state folder)
    moved = jobcore(
        "run", "-q", "--cwd", "sub", "--", "../tool.sh", str(there), env=caller, cwd=work
    )

    real = os.path.realpath(work)
    for ran in (plain, moved):
        assert ran.handed_off, ran.err
        assert starter_of(store, ran.job_id) == dispatcher.pid
    assert store.get(plain.job_id).cwd == real
    assert store.get(moved.job_id).cwd == os.path.join(real, "sub")
    assert read_when_written(here) == f"c|unset|V|{real}\n"
    assert read_when_written(there) == f"c|unset|unset|{real}/sub\n"


def test_at_is_read_in_the_callers_time_zone(home: Path, store: Store, other_home: Path) -> None:
    pin(home, env={**os.environ, "TZ": "UTC0"})
    caller_tz = "XXX-14"  # POSIX for UTC+14: no tz database needed
    # three hours from now on the caller's clock: no midnight between the two launches
    at = time.strftime("%H:%M", time.gmtime(time.time() + (14 + 3) * 3600))
    caller = {**os.environ, "TZ": caller_tz}
    handed = jobcore("run", "-q", "--at", at, "--", "true", env=caller)
    try:
        reference = jobcore(
            "run", "-q", "--at", at, "--", "true", env={**caller, "JOBCORE_HOME": str(other_home)}
        )
        with Store(resolve_home(other_home)) as other:
            expected = other.get(reference.job_id).queue.not_before
    finally:
        stop_all_of(other_home)
    assert store.get(handed.job_id).queue.not_before == expected


def test_jobcore_cgroup_off_in_the_callers_environment_is_obeyed(
    home: Path, store: Store, state: StateDir, tmp_path: Path
) -> None:
    from jobcore.procs.cgroup import ENV_CGROUP, RECORD_NAME, tracking

    if ENV_CGROUP in os.environ or tracking().base is None:
        pytest.skip("no cgroup tracking here to turn off")
    pin(home)
    seen = tmp_path / "cgroup.txt"
    ran = probing_job('grep "^0::" /proc/self/cgroup', seen, env={**os.environ, ENV_CGROUP: "off"})
    line = read_when_written(seen)
    assert f"-{ran.job_id}-" not in line  # not in a cgroup of its own
    assert not (state.job_dir(ran.job_id) / RECORD_NAME).exists()


# 3 ---------------------------------------------------------------------------------------

ERROR_LINES = [
    (("--", "no-such-program-jc"), 1, "jobcore: error: command not found: no-such-program-jc\n"),
    (("--priority", "99999999999", "--", "true"), 2, None),
    (("--delay", "nonsense", "--", "true"), 2, None),
    (("--group", "nosuch", "--", "true"), 1, None),
    (("--after", "zzzzzz", "--", "true"), 1, None),
    (("--env", "NOT A PAIR", "--", "true"), 2, None),
    (("--cwd", "no/such/folder", "--", "true"), 1, None),
]


def test_errors_come_back_as_the_full_cli_gives_them(
    home: Path, store: Store, tmp_path: Path
) -> None:
    dispatcher = pin(home)
    before = job_count(store)
    for at, (line, code, message) in enumerate(ERROR_LINES):
        handed = jobcore("run", *line)
        fresh = {**os.environ, "JOBCORE_HOME": str(tmp_path / f"fresh-{at}")}
        full = jobcore("run", *line, env=fresh)
        assert handed.handed_off, line
        assert not full.handed_off, line
        assert (handed.code, handed.out, handed.err) == (full.code, full.out, full.err), line
        assert handed.code == code, (line, handed.err)
        assert handed.out == ""
        assert handed.err.startswith("jobcore: error: ") and handed.err.count("\n") == 1, line
        if message is not None:
            assert handed.err == message
    assert job_count(store) == before
    assert _alive(dispatcher)


# 4 ---------------------------------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


CONTEXTS = [
    pytest.param(["sh", "-c", 'umask 077; exec "$@"', "sh"], "umask", "0077", id="umask"),
    pytest.param(["sh", "-c", 'ulimit -n 200; exec "$@"', "sh"], "ulimit -n", "200", id="nofile"),
    pytest.param(["nice", "-n", "5"], "nice", str(min(19, os.nice(0) + 5)), id="nice"),
    pytest.param(
        ["ionice", "-c", "3"],
        "ionice",
        "idle",
        id="ionice",
    ),
    pytest.param(
        ["choom", "-n", "500", "--"],
        "cat /proc/self/oom_score_adj",
        "500",
        id="oom_score_adj",
    ),
]


def _asleep(proc: psutil.Process) -> bool:
    with open(f"/proc/{proc.pid}/wchan") as fh:
        return "poll" in fh.read()


@pytest.mark.parametrize(("wrapper", "probe", "expected"), CONTEXTS)
def test_a_caller_in_another_context_launches_its_job_itself(
    home: Path,
    store: Store,
    tmp_path: Path,
    wrapper: list[str],
    probe: str,
    expected: str,
) -> None:
    if shutil.which(wrapper[0]) is None:
        pytest.skip(f"no {wrapper[0]} here")
    if (probe == "umask" and _umask() == 0o077) or (
        probe == "ulimit -n" and resource.getrlimit(resource.RLIMIT_NOFILE)[0] <= 200
    ):
        pytest.skip("this process is in that context already")
    dispatcher = pin(home)
    control = jobcore("run", "-q", "--", "true")
    assert control.handed_off  # the same context is taken
    # its worker gone and the dispatcher asleep: it starts no job while the CLI does
    control_worker = worker_of(store, control.job_id)
    wait_ended(store, [control.job_id])
    wait_for(lambda: _gone(control_worker))
    wait_for(lambda: _asleep(dispatcher))

    seen = tmp_path / "seen.txt"
    ran = probing_job(probe, seen, wrapper=wrapper)
    job_id = ran.job_id
    assert not ran.handed_off
    assert starter_of(store, job_id) != dispatcher.pid
    assert read_when_written(seen).strip() == expected
    assert _alive(dispatcher)


# 5 ---------------------------------------------------------------------------------------


class FakeDispatcher:
    """A listener bound as ``dispatch.sock`` in the state folder (0600), no dispatcher
    behind it: it accepts one client, reads its request to the end, then does ``then``."""

    def __init__(self, home: Path, then: Callable[[bytes], bytes | None]) -> None:
        self.home = home
        self.requests: list[bytes] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with folder_fd(home) as fd:
            self.sock.bind(f"/proc/self/fd/{fd}/{SOCKET_NAME}")
        os.chmod(home / SOCKET_NAME, 0o600)
        self.sock.listen(1)
        self.sock.settimeout(60)
        self.thread = threading.Thread(target=self._serve, args=(then,), daemon=True)
        self.thread.start()

    def _serve(self, then: Callable[[bytes], bytes | None]) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(30)
            data = read_to_end(conn)
            self.requests.append(data)
            reply = then(data)
            if reply is not None:
                conn.sendall(reply)

    def close(self) -> None:
        self.sock.close()  # a pending accept() fails
        self.thread.join(60)


def test_a_dispatcher_silent_after_the_request_leaves_the_launch_to_the_client(
    home: Path, store: Store
) -> None:
    fake = FakeDispatcher(home, lambda data: None)
    try:
        ran = jobcore("run", "-q", "--", "true")
    finally:
        fake.close()
    (data,) = fake.requests
    request = Request.unpack(data)
    assert request is not None and request.argv == ["run", "-q", "--", "true"]
    assert not ran.handed_off
    job_id = ran.job_id
    assert job_count(store) == 1
    made = store.job_launched_as(request.token)
    assert made is not None and made.id == job_id
    wait_ended(store, [job_id])


def test_a_dispatcher_silent_after_making_the_job_is_not_made_twice(
    home: Path, store: Store, state: StateDir
) -> None:
    replies: list[tuple[int, str, str] | None] = []

    def make_then_go_silent(data: bytes) -> None:
        request = Request.unpack(data)
        assert request is not None
        with Store(state) as its_store:
            replies.append(launch_request(state, its_store, request))

    fake = FakeDispatcher(home, make_then_go_silent)
    try:
        ran = jobcore("run", "-q", "--", "true")
    finally:
        fake.close()
    (reply,) = replies
    assert reply is not None
    code, out, _ = reply
    assert code == 0
    job_id = ran.job_id
    assert out == f"{job_id}\n"  # the client printed the job the dispatcher made
    assert not ran.handed_off  # it went on to the full CLI with the token...
    assert job_count(store) == 1  # ...which found that job made under it
    wait_ended(store, [job_id])
    worker = store.get(job_id).worker
    assert worker is not None
    with contextlib.suppress(ChildProcessError):  # this process spawned it: reap it
        os.waitpid(worker.pid, 0)


def _dead_identity() -> ProcessIdentity:
    """The identity of a process that has exited (a dispatcher killed mid-launch)."""
    proc = subprocess.Popen(["sleep", "30"])
    identity = identity_of(proc.pid)
    proc.kill()
    proc.wait()
    assert identity is not None
    return identity


@pytest.mark.parametrize("written", [False, True])
def test_a_dispatcher_killed_while_writing_the_job_leaves_one_job_that_runs(
    home: Path, store: Store, state: StateDir, written: bool
) -> None:
    """Killed after making the row (still its, ``NEW_CLAIM``): a row with no folder yet is
    dropped and the client makes the job afresh; a job written in full is let go and
    started. Either way one job, which runs."""
    made: list[str] = []

    def make_then_die(data: bytes) -> None:
        request = Request.unpack(data)
        assert request is not None
        with Store(state) as its_store:
            job = its_store.create_job(
                ["true"],
                request.cwd,
                {},
                None,
                held_by=_dead_identity(),
                launch_token=request.token,
            )
            if written:
                state.make_job_dir(job.id)
                launch_env.save(state, job.id, launch_env.current(request.env))
                write_json(state.record_path(job.id), {"id": job.id}, root=state.root)
        made.append(job.id)

    fake = FakeDispatcher(home, make_then_die)
    try:
        ran = jobcore("run", "-q", "--", "true")
    finally:
        fake.close()
    (earlier,) = made
    assert job_count(store) == 1
    assert (ran.job_id == earlier) is written
    wait_ended(store, [ran.job_id])
    assert (home / "jobs" / earlier).exists() is written


def test_a_reply_with_an_unreadable_exit_code_leaves_the_launch_to_the_client(
    home: Path, store: Store
) -> None:
    fake = FakeDispatcher(home, lambda data: pack(("\u00b2", "out\n", "err\n")))
    try:
        ran = jobcore("run", "-q", "--", "true")
    finally:
        fake.close()
    assert ran.code == 0, ran.err
    assert job_count(store) == 1
    wait_ended(store, [ran.job_id])


# 6 ---------------------------------------------------------------------------------------


def test_hostile_clients_leave_the_dispatcher_working(
    home: Path, store: Store, tmp_path: Path
) -> None:
    dispatcher = pin(home)
    before = job_count(store)
    cwd = str(tmp_path)
    run = ["run", "-q", "--", "true"]

    def spoilt(at: int, value: str, token: str) -> bytes:
        fields = request_fields(token, cwd, run)
        fields[at] = value
        return pack(fields)

    tokens = [f"hostile-{n}" for n in range(10)]
    payloads = {
        "nothing": b"",
        "garbage": b"\xff\xfe\x00garbage\x00\x00\x01" * 512,
        "another protocol": spoilt(0, "jobcore-run/0", tokens[0]),
        "another build": spoilt(1, "0.0.1 /elsewhere 3.0", tokens[1]),
        "a relative cwd": spoilt(3, "relative", tokens[2]),
        "more arguments said than sent": spoilt(4, "99", tokens[3]),
        "a negative count": spoilt(4, "-1", tokens[4]),
        "a variable without =": pack([*request_fields(tokens[5], cwd, run), "NOEQUALS"]),
        "another command": pack(request_fields(tokens[6], cwd, ["ls", "--json"])),
        "a batch reading stdin": pack(
            request_fields(tokens[7], cwd, ["run", "--each", "-", "--", "echo"])
        ),
        "--follow": pack(request_fields(tokens[8], cwd, ["run", "--follow", "--", "true"])),
        "more than MAX_REQUEST": pack(
            request_fields(tokens[9], cwd, run, {"BIG": "x" * MAX_REQUEST})
        ),
    }
    # the control: the same request unspoilt, from this process, is taken
    control = ask(home, pack(request_fields("control", cwd, run, dict(os.environ))))
    code, out, err = control.decode().split("\0")
    made = store.job_launched_as("control")
    assert (code, out, err) == ("0", f"{made.id}\n" if made else None, "")
    for what, payload in payloads.items():
        assert ask(home, payload) == b"", what  # "not taken" (an empty exit code)
        assert _alive(dispatcher), what
    assert ask(home, None) == b""  # stalled: dropped after REQUEST_TIMEOUT_S, answered nothing
    # a client gone before its answer: the dispatcher's reply fails, and it goes on
    gone = "gone-before-the-reply"
    ask(home, pack(request_fields(gone, cwd, run, dict(os.environ))), read=False)

    ran = jobcore("run", "-q", "--", "sleep", "30")  # served after all of the above
    assert ran.handed_off, ran.err
    assert starter_of(store, ran.job_id) == dispatcher.pid
    assert dispatchers(home) == [dispatcher]
    assert all(store.job_launched_as(token) is None for token in tokens)
    assert store.job_launched_as(gone) is not None  # taken, made once
    assert job_count(store) == before + 3  # the control, the one gone, the last
    wait_for(lambda: store.get(ran.job_id).status.value == "running")


def test_a_count_in_unicode_digits_does_not_kill_the_dispatcher(
    home: Path, store: Store, tmp_path: Path
) -> None:
    dispatcher = pin(home)
    fields = request_fields("superscript", str(tmp_path), ["run", "-q", "--", "true"])
    fields[4] = "\u00b2"  # SUPERSCRIPT TWO: str.isdigit() says yes, int() says no
    ask(home, pack(fields))
    ran = jobcore("run", "-q", "--", "true")
    assert ran.handed_off, "the dispatcher is gone"
    assert dispatchers(home) == [dispatcher]


def test_a_client_sending_a_byte_at_a_time_does_not_hold_the_dispatcher(home: Path) -> None:
    pin(home)
    deadline = time.monotonic() + 2.5 * REQUEST_TIMEOUT_S
    with connection(home) as drip:
        drip.sendall(b"j")
        run = subprocess.Popen(
            [sys.executable, "-m", "jobcore", "run", "-q", "--", "true"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            dripping = True
            while run.poll() is None and time.monotonic() < deadline:
                if dripping:
                    try:
                        drip.sendall(b"x")  # a byte every REQUEST_TIMEOUT_S / 4
                    except OSError:
                        dripping = False  # dropped, as it should be
                with contextlib.suppress(subprocess.TimeoutExpired):
                    run.wait(REQUEST_TIMEOUT_S / 4)
            served_meanwhile = run.poll() is not None
        finally:
            drip.close()
            try:
                out, _ = run.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                run.kill()
                run.communicate()
    assert run.returncode == 0 and out.strip()
    assert served_meanwhile


# 7 ---------------------------------------------------------------------------------------


def _accepts(home: Path) -> bool:
    """Someone listens on the socket (a stale one refuses: ECONNREFUSED)."""
    try:
        with connection(home):
            return True
    except OSError:
        return False


def test_a_stale_socket_is_survived_then_replaced(home: Path, store: Store) -> None:
    first = pin(home)
    first.kill()
    wait_for(lambda: not _alive(first))
    assert _is_socket(home / SOCKET_NAME)  # left behind
    assert not _accepts(home)

    ran = jobcore("run", "-q", "--", "true")
    assert not ran.handed_off
    wait_ended(store, [ran.job_id])
    # it found the hour-long job waiting and no dispatcher: it started one, which binds afresh
    wait_for(lambda: _accepts(home))
    again = jobcore("run", "-q", "--", "sleep", "30")
    assert again.handed_off
    second = psutil.Process(starter_of(store, again.job_id))
    assert second.cmdline()[-2:] == [DISPATCHER, str(home)]
    assert second.pid != first.pid


# 8 ---------------------------------------------------------------------------------------


def test_a_symlink_planted_as_the_socket_is_not_followed(
    home: Path, store: Store, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as decoy:
        with folder_fd(elsewhere) as fd:
            decoy.bind(f"/proc/self/fd/{fd}/{SOCKET_NAME}")
        os.chmod(elsewhere / SOCKET_NAME, 0o600)
        decoy.listen(8)
        decoy.setblocking(False)
        (home / SOCKET_NAME).symlink_to(elsewhere / SOCKET_NAME)

        ran = jobcore("run", "-q", "--", "true")

        assert ran.code == 0, ran.err
        with pytest.raises(BlockingIOError):
            decoy.accept()  # nobody came
    assert not ran.handed_off
    assert job_count(store) == 1
    wait_ended(store, [ran.job_id])


# 9 ---------------------------------------------------------------------------------------


def test_an_idle_dispatcher_leaves_and_takes_its_socket_along(home: Path, store: Store) -> None:
    for _ in range(2):  # the second, quick after the first, starts a dispatcher
        assert jobcore("run", "-q", "--", "true").code == 0
    dispatcher = live_dispatcher(home)
    wait_for(lambda: not _alive(dispatcher), timeout=LINGER_S * 6)
    assert not os.path.lexists(home / SOCKET_NAME)
    assert job_count(store) == 2


WAKEUPS_OF_A_SPINNING_DISPATCHER = 500
"""A sleeping one wakes a few times (the 10 s safety net); a polling one, hundreds a second."""


def test_a_dispatcher_kept_by_a_waiting_job_sleeps_after_lingering(home: Path) -> None:
    dispatcher = pin(home)

    def wakeups() -> int:
        with open(f"/proc/{dispatcher.pid}/status") as fh:
            line = next(x for x in fh if x.startswith("voluntary_ctxt_switches:"))
        return int(line.split()[1])

    # Proving that something does not happen needs a window: LINGER_S, then 5 s more.
    with pytest.raises(AssertionError):
        wait_for(lambda: wakeups() > WAKEUPS_OF_A_SPINNING_DISPATCHER, timeout=LINGER_S + 5)


# 10 --------------------------------------------------------------------------------------

LOOPS, RUNS = 3, 6


def test_concurrent_loops_of_runs_each_get_a_job_of_their_own(home: Path, store: Store) -> None:
    dispatcher = pin(home)
    before = job_count(store)

    def loop(_: int) -> list[Ran]:
        return [jobcore("run", "-q", "--", "true") for _ in range(RUNS)]

    with ThreadPoolExecutor(LOOPS) as pool:
        results = [ran for ran_loop in pool.map(loop, range(LOOPS)) for ran in ran_loop]
    ids = [ran.job_id for ran in results]
    log = (home / "dispatch.log").read_text()
    assert all(ran.handed_off and ran.err == "" for ran in results), log
    assert len(set(ids)) == len(ids) == LOOPS * RUNS
    assert job_count(store) == before + LOOPS * RUNS
    wait_ended(store, ids)
    assert dispatchers(home) == [dispatcher]
