"""Run the items of a batch: as commands (``{}`` filled in) or as Python calls.

A runner starts items and reports how each attempt ended; what that means for the item
(done, retry, failed, requeued) is the batch scheduler's business, not the runner's.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field

import psutil

from jobcore.calls import call_item
from jobcore.errors import Pause
from jobcore.items import ItemRecord
from jobcore.launcher import find_executable
from jobcore.logs import item_prefix
from jobcore.logwriter import LogWriter
from jobcore.proctree import terminate

EX_TEMPFAIL = 75
"""An item exiting with this code asks to pause the whole job (sysexits.h: try again later)."""

LEFTOVER_WAIT_S = 1.0
EXIT_AFTER_EOF_S = 0.05


def fill_argv(template: Sequence[str], item: str) -> list[str]:
    """``{}`` in any argument becomes the item; with no ``{}`` the item is appended (xargs)."""
    if any("{}" in arg for arg in template):
        return [arg.replace("{}", item) for arg in template]
    return [*template, item]


@dataclass
class Outcome:
    """How one attempt of an item ended."""

    ok: bool
    exit_code: int | None = None
    error: str | None = None
    result: str | None = None
    pause: Pause | None = None


@dataclass
class _Running:
    record: ItemRecord
    proc: subprocess.Popen[bytes]
    fd: int
    writer: LogWriter
    last_line: list[bytes] = field(default_factory=list)
    eof: bool = False
    exited_at: float | None = None


class CommandRunner:
    """Items as processes, their output prefixed with the item into the job log."""

    def __init__(
        self,
        template: Sequence[str],
        cwd: str,
        env: dict[str, str],
        log_fd: int,
        redact: Callable[[bytes], bytes] | None = None,
    ):
        self.redact = redact
        self.template = list(template)
        self.executable = None if "{}" in template[0] else find_executable(template[0], cwd, env)
        """The program, looked up in PATH once rather than once per item."""
        self.cwd = cwd
        self.env = env
        self.log_fd = log_fd
        self.selector = selectors.DefaultSelector()
        self.items: dict[int, _Running] = {}

    @property
    def running(self) -> int:
        return len(self.items)

    def start(self, record: ItemRecord) -> Outcome | None:
        """Start an item; returns an Outcome at once if it could not even start."""
        argv = fill_argv(self.template, record.item)
        read_fd, write_fd = os.pipe()
        try:
            proc = subprocess.Popen(
                argv,
                executable=self.executable,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                close_fds=True,
                process_group=0,
            )
        except OSError as exc:
            os.close(read_fd)
            reason = "command not found" if isinstance(exc, FileNotFoundError) else exc.strerror
            return Outcome(ok=False, error=f"{reason}: {argv[0]}")
        finally:
            os.close(write_fd)
        last: list[bytes] = []

        def remember(line: bytes) -> bool:
            if line.strip():
                last[:] = [line]
            return False

        writer = LogWriter(
            self.log_fd, remember, prefix=item_prefix(record.item).encode(), redact=self.redact
        )
        entry = _Running(record, proc, read_fd, writer, last)
        self.items[read_fd] = entry
        self.selector.register(read_fd, selectors.EVENT_READ, entry)
        return None

    def wait(self, timeout: float) -> list[tuple[ItemRecord, Outcome]]:
        """Copy output for up to ``timeout`` seconds; return the attempts that ended."""
        if self.items:
            for key, _ in self.selector.select(timeout):
                entry: _Running = key.data
                data = os.read(entry.fd, 65536)
                if data:
                    entry.writer.feed(data)
                else:
                    entry.eof = True
                    self.selector.unregister(entry.fd)
                    # Its exit follows within moments: wait for it here rather than a whole
                    # tick (which would idle the slot; a -j 1 batch would crawl).
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        entry.proc.wait(timeout=EXIT_AFTER_EOF_S)
        else:
            time.sleep(timeout)
        ended = []
        now = time.monotonic()
        for entry in list(self.items.values()):
            if entry.proc.poll() is None:
                continue
            if entry.exited_at is None:
                entry.exited_at = now
            if not entry.eof and now - entry.exited_at < LEFTOVER_WAIT_S:
                continue  # give the pipe a moment to drain
            ended.append((entry.record, self._close(entry)))
        return ended

    def _close(self, entry: _Running) -> Outcome:
        if not entry.eof:
            # Something the item left behind still holds the pipe: its group goes with it.
            with contextlib.suppress(OSError):
                os.killpg(entry.proc.pid, signal.SIGKILL)
            self.selector.unregister(entry.fd)
            entry.eof = True
        entry.writer.close()
        os.close(entry.fd)
        del self.items[entry.fd]
        return _outcome(entry.record, entry.proc.returncode, entry.last_line)

    def interrupt_all(self, grace: float) -> list[ItemRecord]:
        """Terminate every running item (SIGTERM, grace, SIGKILL); returns their records."""
        procs = []
        for entry in self.items.values():
            with contextlib.suppress(psutil.Error):
                procs.append(psutil.Process(entry.proc.pid))
        terminate(procs, grace)
        records = []
        for entry in list(self.items.values()):
            entry.proc.wait()
            self._close(entry)
            records.append(entry.record)
        return records

    def close(self) -> None:
        self.selector.close()


class CallRunner:
    """Items as calls of a Python function in a thread or process pool."""

    def __init__(self, target: str, cwd: str, parallel: int, processes: bool) -> None:
        from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

        self.target = target
        self.cwd = cwd
        self.executor: Executor = (
            # spawn: pool processes must not inherit the worker's database or slot locks.
            ProcessPoolExecutor(parallel, mp_context=multiprocessing.get_context("spawn"))
            if processes
            else ThreadPoolExecutor(parallel)
        )
        self.futures: dict[Future[str | None], ItemRecord] = {}

    @property
    def running(self) -> int:
        return len(self.futures)

    def start(self, record: ItemRecord) -> Outcome | None:
        self.futures[self.executor.submit(call_item, self.target, self.cwd, record.item)] = record
        return None

    def wait(self, timeout: float) -> list[tuple[ItemRecord, Outcome]]:
        if not self.futures:
            time.sleep(timeout)
            return []
        done, _ = wait(list(self.futures), timeout=timeout, return_when=FIRST_COMPLETED)
        ended = []
        for future in done:
            record = self.futures.pop(future)
            exc = future.exception()
            if exc is None:
                ended.append((record, Outcome(ok=True, result=future.result())))
            elif isinstance(exc, Pause):
                ended.append((record, Outcome(ok=False, error=exc.reason, pause=exc)))
            else:
                error = f"{type(exc).__name__}: {exc}".strip()
                ended.append((record, Outcome(ok=False, error=error[:500])))
        return ended

    def interrupt_all(self, grace: float) -> list[ItemRecord]:
        """Give up on running calls (threads cannot be interrupted: their results are dropped)."""
        records = list(self.futures.values())
        self.futures.clear()
        return records

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _outcome(record: ItemRecord, code: int, last_line: list[bytes]) -> Outcome:
    """An item's exit code (and its last line of output, for the error) as an Outcome."""
    last = last_line[0].decode("utf-8", "replace").strip()[:500] if last_line else ""
    if code == 0:
        return Outcome(ok=True, exit_code=0)
    if code == EX_TEMPFAIL:
        reason = last or f"item {record.item!r} asked to pause (exit {EX_TEMPFAIL})"
        return Outcome(ok=False, exit_code=code, error=reason, pause=Pause(reason))
    if code < 0:
        try:
            error = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            error = f"killed by signal {-code}"
        return Outcome(ok=False, exit_code=code, error=error)
    error = f"exit code {code}: {last}" if last else f"exit code {code}"
    return Outcome(ok=False, exit_code=code, error=error)
