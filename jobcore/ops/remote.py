"""``jobcore`` on other machines, through the system ``ssh``: no server of ours, no open port.

Everything remote is ``ssh HOST jobcore ...``: the user's ``~/.ssh/config`` (aliases, keys,
jump hosts) applies, ``BatchMode`` makes a missing key an error instead of a password prompt
inside a dashboard, and one ControlMaster connection per host (its socket in a private 0700
folder) carries the stream and every action, so a stop costs a round trip, not a handshake.
The remote command line is quoted with ``shlex`` for the remote shell, and a host that starts
with ``-`` is refused: it would be read by ssh as an option (``-oProxyCommand=...``).

This module is the part without a UI: ssh's argv, what its failures mean, one-shot commands,
and the lines of ``jobcore ls --watch --json`` turned back into ``Job`` rows.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from jobcore.base.addresses import check_host
from jobcore.base.errors import JobcoreError, UsageError
from jobcore.state.models import Job, JobStatus, QueueSpec

ENV_SSH = "JOBCORE_SSH"
"""The ssh command, split as a shell would (default ``ssh``): ``ssh -F ~/.ssh/lab_config``."""
REMOTE_JOBCORE = "jobcore"
"""What is run on the other machine: ``jobcore`` on the PATH of a non-interactive session."""
INSTALL_HINT = "pipx install jobcore"
CONNECT_TIMEOUT_S = 5
ALIVE_INTERVAL_S = 2
ALIVE_COUNT = 3
"""ssh gives up on a silent connection after about ALIVE_INTERVAL_S × ALIVE_COUNT seconds."""
CONTROL_PERSIST_S = 60
"""The shared connection outlives its last user this long (the next action reuses it)."""
NOT_INSTALLED = 127
"""The shell's exit code for a command it cannot find."""
SSH_FAILED = 255
"""ssh's own exit code when the connection failed (or the remote command exited 255)."""


def control_dir() -> Path:
    """The private folder of ssh's ControlMaster sockets: ours, a real folder, 0700.

    A socket there is a logged-in connection: anyone who can reach it runs commands as us.
    """
    base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
    path = Path(base) / f"jobcore-ssh-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        st = path.lstat()
    except OSError as exc:
        raise JobcoreError(f"cannot create {path} for ssh connections: {exc.strerror}") from exc
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise JobcoreError(f"refusing {path} for ssh connections: not a folder of yours")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def control_path(host: str) -> str:
    """The socket of ``host``'s shared connection: per alias as written, then per destination.

    ssh's ``%C`` alone hashes the destination an alias resolves to, so two aliases of one
    machine (each with its own ``SetEnv`` or ``RemoteCommand``) would share one connection.
    """
    import hashlib

    alias = hashlib.sha256(host.encode()).hexdigest()[:12]
    return f"{control_dir()}/{alias}-%C"


def ssh_command() -> list[str]:
    """The ssh client and the user's own options (``$JOBCORE_SSH``), as an argv."""
    try:
        words = shlex.split(os.environ.get(ENV_SSH) or "ssh")
    except ValueError as exc:
        raise UsageError(f"{ENV_SSH}: {exc}") from None
    return words or ["ssh"]


def ssh_argv(host: str, command: Sequence[str], *, tty: bool = False) -> list[str]:
    """ssh's argv to run ``command`` (an argv) on ``host``, through the shared connection."""
    check_host(host)
    return [
        *ssh_command(),
        "-o", "BatchMode=yes",
        "-o", "ControlMaster=auto",
        "-o", f"ControlPath={control_path(host)}",
        "-o", f"ControlPersist={CONTROL_PERSIST_S}",
        "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}",
        "-o", f"ServerAliveInterval={ALIVE_INTERVAL_S}",
        "-o", f"ServerAliveCountMax={ALIVE_COUNT}",
        "-t" if tty else "-T",
        "--",
        host,
        shlex.join(command),
    ]  # fmt: skip


def jobcore_argv(host: str, args: Sequence[str], *, tty: bool = False) -> list[str]:
    """ssh's argv for ``jobcore ARGS`` on ``host``."""
    return ssh_argv(host, [REMOTE_JOBCORE, *args], tty=tty)


class Failure(NamedTuple):
    """Why an ssh command failed, in words for people."""

    message: str
    connecting: bool
    """It failed before the remote command could run: nothing happened there."""


def explain(host: str, code: int, stderr: str) -> Failure | None:
    """What an ssh exit means (None: the remote command ran; its own exit code stands)."""
    text = stderr.lower()
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    if code == NOT_INSTALLED or (
        "jobcore" in text and ("command not found" in text or "not found" in text)
    ):
        return Failure(
            f"jobcore is not installed on {host} (or not on the PATH of a non-interactive ssh "
            f"session there): run `{INSTALL_HINT}` on {host}",
            True,
        )
    if code != SSH_FAILED:
        return None
    causes = (
        ("host key verification failed", "its host key is unknown or has changed: "
         f"connect once with `ssh {host}` to check and accept it"),
        ("identification has changed", "its host key has changed: "
         f"check it, then fix ~/.ssh/known_hosts (`ssh-keygen -R {host}`)"),
        ("permission denied", "ssh authentication failed (the dashboard never asks for a "
         f"password): load a key into ssh-agent or run `ssh-copy-id {host}`"),
        ("could not resolve hostname", "unknown host name"),
        ("connection refused", "connection refused (is sshd running there?)"),
        ("no route to host", "no route to host"),
        ("network is unreachable", "network is unreachable"),
        ("connection timed out", "connection timed out"),
        ("operation timed out", "connection timed out"),
    )  # fmt: skip
    for needle, why in causes:
        if needle in text:
            return Failure(f"cannot reach {host}: {why}", True)
    return Failure(f"connection to {host} lost: {last or 'ssh exited with 255'}", False)


class Outcome(NamedTuple):
    """What a one-shot remote command did."""

    code: int
    stdout: str
    stderr: str
    failure: Failure | None
    """Set when ssh itself failed (not the remote command)."""


def run_once(
    host: str, args: Sequence[str], *, timeout: float = 120, input_: str | None = None
) -> Outcome:
    """``jobcore ARGS`` on ``host``, waited for; stdout and stderr kept as text.

    stderr goes to a file, not a pipe: a ControlPersist master started by this command keeps
    its stderr open after the command ended, so waiting for a pipe's end would wait a minute.
    """
    import subprocess
    import tempfile

    argv = jobcore_argv(host, args)
    with tempfile.TemporaryFile(dir=control_dir()) as err:
        try:
            proc = subprocess.run(
                argv,
                input=(input_ or "").encode(),
                stdout=subprocess.PIPE,
                stderr=err,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            failure = Failure(f"no answer from {host} within {timeout:.0f}s", False)
            return Outcome(SSH_FAILED, "", "", failure)
        except OSError as exc:
            failure = Failure(f"cannot run {argv[0]}: {exc.strerror}", True)
            return Outcome(SSH_FAILED, "", "", failure)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    stdout = proc.stdout.decode(errors="replace")
    return Outcome(proc.returncode, stdout, stderr, explain(host, proc.returncode, stderr))


# -- jobcore --host HOST COMMAND ... ------------------------------------------------------------


def split_host(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """The ``--host`` among the options before the command word, and argv without it."""
    rest: list[str] = []
    host: str | None = None
    args = iter(argv)
    for arg in args:
        if arg == "--host":
            value = next(args, None)
            if value is None:
                raise UsageError("--host needs a HOST")
            host = check_host(value)
        elif arg.startswith("--host="):
            host = check_host(arg.removeprefix("--host="))
        elif arg == "--home":
            rest.append(arg)
            value = next(args, None)
            if value is not None:
                rest.append(value)
        elif arg.startswith("-") and arg != "-":
            rest.append(arg)
        else:
            rest.append(arg)
            rest.extend(args)
    return host, rest


def run_cli(host: str, args: Sequence[str]) -> int:
    """``jobcore --host HOST ARGS``: the same command on HOST, its output here, its exit code.

    A terminal on both ends gets a remote terminal too (``attach``, ``logs -f`` in colour).
    What ssh itself says on failure is replaced by one line that says what to do.
    """
    import subprocess
    import tempfile

    if not args:
        raise UsageError("--host HOST needs a command to run there")
    tty = sys.stdin.isatty() and sys.stdout.isatty()
    argv = jobcore_argv(host, args, tty=tty)
    with tempfile.TemporaryFile(dir=control_dir()) as err:
        try:
            code = subprocess.run(argv, stderr=err).returncode
        except KeyboardInterrupt:
            return 130
        except OSError as exc:
            raise JobcoreError(f"cannot run {argv[0]}: {exc.strerror}") from None
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    failure = explain(host, code, stderr)
    if failure is not None:
        raise JobcoreError(failure.message)
    sys.stderr.write(stderr)
    return code


# -- the stream of ``jobcore ls --watch --json`` -------------------------------------------------

STREAM_SCHEMA = 1
"""The newest line format this jobcore reads (``jobcore.ops.watch_stream.SCHEMA``)."""


class StreamError(ValueError):
    """A line that is not what ``jobcore ls --watch --json`` prints."""


class Frame(NamedTuple):
    """One line of the stream."""

    seq: int
    kind: str
    """``snapshot`` or ``heartbeat``."""
    host: str
    """The host's own name for itself."""
    clock: float
    """The host's wall clock when it wrote the line."""
    jobs: list[dict[str, Any]]
    counts: dict[str, int]


def parse_line(line: bytes | str) -> Frame:
    """A line of the stream, checked; a StreamError says what is wrong with it."""
    import json

    try:
        data = json.loads(line)
    except ValueError as exc:
        raise StreamError(f"not JSON: {str(line)[:80]!r}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("schema"), int):
        raise StreamError(f"not a jobcore stream line: {str(line)[:80]!r}")
    if data["schema"] > STREAM_SCHEMA:
        raise StreamError(
            f"the other side speaks stream version {data['schema']}; upgrade jobcore here"
        )
    try:
        kind = str(data["kind"])
        frame = Frame(
            int(data["seq"]),
            kind,
            str(data.get("host", "")),
            float(data["clock"]),
            list(data.get("jobs", [])) if kind == "snapshot" else [],
            {str(k): int(v) for k, v in dict(data.get("counts", {})).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StreamError(f"bad stream line ({type(exc).__name__}: {exc})") from exc
    if kind not in ("snapshot", "heartbeat"):
        raise StreamError(f"unknown stream line kind {kind!r}")
    return frame


def _time(value: Any, shift: float) -> float | None:
    """An ISO time of the other host as a time of this one (clocks differ by ``shift``)."""
    if value is None:
        return None
    return datetime.fromisoformat(value).timestamp() + shift


def job_from_json(data: dict[str, Any], shift: float) -> Job:
    """A job of a snapshot line as a ``Job`` (no process identity: it is not ours to signal).

    ``shift`` is this host's clock minus the other's, so elapsed times tick here correctly.
    """
    job_id = data.get("id")
    if not isinstance(job_id, str) or not job_id.isalnum() or not job_id.isascii():
        raise StreamError(f"bad job id in stream: {str(job_id)[:40]!r}")
    try:
        command = [str(part) for part in data["command"]]
        on_done = data.get("on_done")
        started = _time(data.get("started_at"), shift)
        created = _time(data["created_at"], shift) or 0.0
        return Job(
            id=job_id,
            seq=int(data.get("seq") or 0),
            name=data.get("name"),
            command=command,
            cwd=str(data.get("cwd") or ""),
            env=dict(data.get("env") or {}),
            status=JobStatus(data["status"]),
            reason=data.get("reason"),
            created_at=created,
            queued_at=created,
            started_at=started,
            finished_at=_time(data.get("finished_at"), shift),
            exit_code=data.get("exit_code"),
            worker=None,
            command_proc=None,
            stop_request=None,
            total=data.get("total"),
            done=int(data.get("done") or 0),
            errors=int(data.get("errors") or 0),
            current_item=data.get("current_item"),
            rate=data.get("rate"),
            eta_s=data.get("eta_s"),
            progress_at=_time(data.get("progress_updated_at"), shift),
            spec=dict(data.get("batch") or {}),
            paused_until=_time(data.get("paused_until"), shift),
            queue=QueueSpec(
                str(data.get("group") or "default"),
                int(data.get("priority") or 0),
                tuple(data.get("after") or ()),
                _time(data.get("not_before"), shift),
                data.get("waiting_on") == "held",  # ls --json says it by what the job waits on
            ),
            waiting_on=data.get("waiting_on"),
            on_done=on_done,
            redact=(),
            masked={"command": command, "on_done": on_done},
            run_s=float(data.get("run_s") or 0.0),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StreamError(f"bad job in stream ({type(exc).__name__}: {exc})") from exc
