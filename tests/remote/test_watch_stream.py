"""``jobcore ls --watch --json``: a snapshot, one per change, heartbeats, and a clean end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from jobcore.ops import remote
from tests.conftest import CLI, wait_for
from tests.remote.sshd import SshServer


class Reader:
    """Reads a stream's lines with a deadline per line."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        self._buffer = b""

    def line(self, timeout: float = 15) -> dict[str, Any]:
        import select

        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            assert left > 0, "no line in time"
            select.select([self.proc.stdout], [], [], left)
            chunk = self.proc.stdout.read()
            assert chunk != b"", "the stream ended"
            self._buffer += chunk or b""
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def until(self, predicate: Any, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            frame = self.line(max(0.1, deadline - time.monotonic()))
            if predicate(frame):
                return frame


@pytest.fixture
def stream(cli: CLI) -> Iterator[Any]:
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Reader:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jobcore", "ls", "--watch", "--json", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        started.append(proc)
        return Reader(proc)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_a_snapshot_then_one_per_change_then_heartbeats(cli: CLI, stream: Any) -> None:
    reader = stream("--heartbeat", "0.3")
    first = reader.line()
    assert first["kind"] == "snapshot" and first["jobs"] == [] and first["schema"] == 1
    assert first["seq"] == 1 and first["host"] and abs(first["clock"] - time.time()) < 60
    job_id = cli.run("sh", "-c", "echo '::progress 1/2'; sleep 0.5; echo '::progress 2/2'")
    seen = reader.until(lambda f: f["kind"] == "snapshot" and f["jobs"])
    assert seen["jobs"][0]["id"] == job_id
    done = reader.until(lambda f: f["kind"] == "snapshot" and f["jobs"][0]["status"] == "completed")
    assert done["jobs"][0]["done"] == 2 and done["counts"] == {"completed": 1}
    beats = [reader.until(lambda f: f["kind"] == "heartbeat") for _ in range(2)]
    assert [b["seq"] for b in beats] == [beats[0]["seq"], beats[0]["seq"] + 1]
    assert set(beats[0]) == {"schema", "seq", "kind", "host", "clock"}


def test_the_heartbeat_interval_comes_from_the_environment(cli: CLI, stream: Any) -> None:
    reader = stream(env={"JOBCORE_WATCH_HEARTBEAT": "0.2"})
    reader.line()
    beats = [reader.line(timeout=10) for _ in range(3)]
    assert [beat["kind"] for beat in beats] == ["heartbeat"] * 3
    assert beats[2]["clock"] - beats[0]["clock"] < 2  # the default would space them 4 s


def test_a_bad_heartbeat_is_one_line_and_exit_2(cli: CLI) -> None:
    for value in ("0", "nan", "-1", "1e9"):
        proc = cli("ls", "--watch", "--json", "--heartbeat", value, check=False)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    proc = cli("ls", "--watch", check=False)
    assert proc.returncode == 2 and "--watch goes with --json" in proc.stderr


def test_it_ends_cleanly_when_its_reader_goes_away(cli: CLI, stream: Any) -> None:
    reader = stream("--heartbeat", "30")  # no heartbeat to find out by writing
    reader.line()
    assert reader.proc.stdout is not None
    reader.proc.stdout.close()
    assert reader.proc.wait(timeout=10) == 0
    assert reader.proc.stderr is not None and reader.proc.stderr.read() == b""


def _watchers(server: SshServer) -> list[psutil.Process]:
    found = []
    for proc in server.sessions():
        try:
            if "--watch" in proc.cmdline():
                found.append(proc)
        except psutil.Error:
            continue
    return found


def test_over_ssh_the_remote_stream_ends_with_its_reader(ssh_env: SshServer) -> None:
    proc = subprocess.Popen(
        remote.jobcore_argv("a", ["ls", "--watch", "--json", "--heartbeat", "30"]),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        reader = Reader(proc)
        assert reader.line()["kind"] == "snapshot"
        assert wait_for(lambda: _watchers(ssh_env))
        proc.kill()  # the dashboard went away
        wait_for(lambda: not _watchers(ssh_env), timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
