"""Run the items of a shell batch: one process per item, ``{}`` in its argv filled in.

A runner starts items and reports how each attempt ended; what that means for the item
(done, retry, failed, requeued) is the batch scheduler's business, not the runner's.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from jobcore.base.current_item import ENV_ITEM
from jobcore.base.errors import Pause
from jobcore.base.progress_parse import WANTED, parse_line
from jobcore.procs.programs import find_executable
from jobcore.state.items import ItemRecord, Outcome
from jobcore.state.live_line import LiveLine
from jobcore.state.logs import item_prefix
from jobcore.state.models import exit_reason
from jobcore.state.reporter import Reporter
from jobcore.worker.logwriter import LogWriter

if TYPE_CHECKING:
    from collections.abc import Callable

    from jobcore.base.redact import Redactor
    from jobcore.procs.cgroup import JobCgroup
    from jobcore.state.store import Store

EX_TEMPFAIL = 75
"""An item exiting with this code asks to pause the whole job (sysexits.h: try again later)."""

LEFTOVER_WAIT_S = 1.0
"""How long output may still arrive after an item exited (a grandchild holding its pipe)."""
STEP_S = 0.1
"""How often an interruption looks at its items while they end."""
KILL_WAIT_S = 5.0
"""How long killed items get to be collected before they are given up (a process stuck in
the kernel); their zombies are reaped later as adopted ones."""


def fill_argv(template: Sequence[str], item: str) -> list[str]:
    """``{}`` in any argument becomes the item; with no ``{}`` the item is appended (xargs)."""
    if any("{}" in arg for arg in template):
        return [arg.replace("{}", item) for arg in template]
    return [*template, item]


class ItemOutput(Protocol):
    """What ``item_line`` needs of an item whose output is being read."""

    reporter: Reporter | None
    last_error: str | None

    @property
    def record(self) -> ItemRecord: ...

    @property
    def writer(self) -> LogWriter | None: ...


def item_line(
    entry: ItemOutput, line: bytes, store: Store | None, job_id: str, redact: Redactor | None
) -> bool:
    """An item's line of output, wherever it runs: its progress is the item's own; its last
    ``::error`` is the reason it may fail. True keeps a marker out of the log."""
    assert entry.writer is not None
    change = parse_line(line, entry.writer.row)
    if change is not None and change.error is not None:
        entry.last_error = change.error
        return False  # an error stays in the log, as a job's does
    if change is None or store is None:
        return False
    if entry.reporter is None:
        entry.reporter = Reporter(
            store,
            job_id,
            shown=None if redact is None else redact.text,
            item_idx=entry.record.idx,
        )
    entry.reporter.update(change)
    return change.is_marker


def item_writer(
    record: ItemRecord,
    log_fd: int,
    redact: Redactor | None,
    live: LiveLine | None,
    on_line: Callable[[bytes], bool],
) -> LogWriter:
    """The writer of one item's output into the job log, each line prefixed with the item
    (masked as the job's output is), wherever the item runs."""
    shown = record.item if redact is None else redact.text(record.item)
    return LogWriter(
        log_fd,
        on_line,
        prefix=item_prefix(record.item, record.idx, shown).encode("utf-8", "surrogateescape"),
        redact=redact,
        live=live,
        wants=WANTED,
    )


class _Running:
    """An item's process while it runs; a plain class, as dataclasses slow a worker's start
    (docs/decisions/0015-light-start-path-imports.md)."""

    __slots__ = (
        "eof",
        "exited_at",
        "fd",
        "last_error",
        "pid",
        "pidfd",
        "record",
        "reporter",
        "returncode",
        "writer",
    )

    def __init__(self, record: ItemRecord, pid: int, fd: int) -> None:
        self.record = record
        self.pid = pid
        self.fd = fd
        """The read end of the pipe the item writes its output to."""
        self.writer: LogWriter | None = None
        self.last_error: str | None = None
        """Its last ``::error`` line's message: the reason it failed, if it says."""
        self.reporter: Reporter | None = None
        """The item's own progress (its ``::progress`` lines, bars), made at its first."""
        self.eof = False
        self.pidfd: int | None = None
        """Watched only when the output ended before the exit could be collected."""
        self.returncode: int | None = None
        self.exited_at: float | None = None


class CommandRunner:
    """Items as processes, their output prefixed with the item into the job log.

    Items start with ``posix_spawn`` (vfork and exec, no Python in between) in the worker's
    own folder, which the batch sets to the job's cwd. Every descriptor the worker opens is
    close-on-exec (Python's and SQLite's default), so an item inherits only its stdin
    (/dev/null), its pipe and the job's group slot, if it has one. An item's exit is
    collected when its output ends, which is almost always the moment it exits; if it has
    not quite exited yet, its pidfd is watched in the same poll. An item that exits while
    something it left behind holds its pipe is found by the non-blocking reap of each pass.

    The worker is a child subreaper, so whatever an item leaves running is re-parented to it
    when the item ends; each pass reaps those once they exit (no zombies pile up under a
    long batch). An item's own exit found that way is recorded, not thrown away.
    """

    def __init__(
        self,
        template: Sequence[str],
        env: dict[str, str],
        log_fd: int,
        redact: Redactor | None = None,
        live: LiveLine | None = None,
        slot_fd: int | None = None,
        cgroup: JobCgroup | None = None,
        store: Store | None = None,
        job_id: str = "",
    ):
        self.store = store
        """Where an item's own progress goes (None: its progress lines are only output)."""
        self.job_id = job_id
        self.cgroup = cgroup
        """The job's cgroup: each item is born in it."""
        self.redact = redact
        self.live = live
        """Shared by every item: the newest rewritten line of any of them."""
        self.template = list(template)
        self.env = env
        self.cwd = os.getcwd()
        self.executable = None if "{}" in template[0] else self._find(template[0])
        """The program, looked up in PATH once rather than once per item."""
        self.log_fd = log_fd
        self.poller = select.poll()
        self.watched: dict[int, _Running] = {}
        """Pipe and pidfd descriptors being polled, to their item."""
        self.items: dict[int, _Running] = {}
        """Running items by pid."""
        if slot_fd is not None:
            # The job's group slot: items inherit it (posix_spawn keeps what is inheritable),
            # so the slot stays taken while any of them runs
            # (docs/decisions/0005-group-slot-is-an-inherited-flock.md).
            os.set_inheritable(slot_fd, True)

    @property
    def running(self) -> int:
        return len(self.items)

    def _find(self, command: str) -> str | None:
        return find_executable(command, self.cwd, self.env)

    def start(self, record: ItemRecord) -> Outcome | None:
        """Start an item; returns an Outcome at once if it could not even start."""
        argv = fill_argv(self.template, record.item)
        path = self.executable or self._find(argv[0])
        if path is None:
            return Outcome(ok=False, error=f"command not found: {argv[0]}")
        read_fd, write_fd = os.pipe()
        try:
            with self.cgroup.spawning() if self.cgroup else contextlib.nullcontext():
                pid = os.posix_spawn(
                    path,
                    argv,
                    {**self.env, ENV_ITEM: str(record.idx)},
                    file_actions=[
                        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                        (os.POSIX_SPAWN_DUP2, write_fd, 1),
                        (os.POSIX_SPAWN_DUP2, write_fd, 2),
                    ],
                    setpgroup=0,
                )
        except OSError as exc:
            os.close(read_fd)
            return Outcome(ok=False, error=f"{exc.strerror}: {argv[0]}")
        finally:
            os.close(write_fd)
        entry = _Running(record, pid, read_fd)
        entry.writer = item_writer(
            record, self.log_fd, self.redact, self.live, lambda line: self._on_line(entry, line)
        )
        self.items[pid] = entry
        self._watch(read_fd, entry)
        return None

    def _on_line(self, entry: _Running, line: bytes) -> bool:
        """An item's line (see ``item_line``); its last line of output, ``writer.last_line``,
        is its reason to fail where it gave no ``::error``."""
        assert entry.writer is not None
        return item_line(entry, line, self.store, self.job_id, self.redact)

    def wait(self, timeout: float) -> list[tuple[ItemRecord, Outcome]]:
        """Copy output for up to ``timeout`` seconds; return the attempts that ended."""
        self._reap_adopted()
        if not self.items:
            time.sleep(timeout)
            return []
        events = self.poller.poll(timeout * 1000)
        if not events and self.live is not None:
            self.live.flush()
        for fd, _ in events:
            entry = self.watched[fd]
            if fd == entry.pidfd:
                self._reap(entry, block=True)
                continue
            data = os.read(fd, 65536)
            if data:
                assert entry.writer is not None
                entry.writer.feed(data)
            else:
                entry.eof = True
                self._unwatch(fd)
        self._reap_adopted()
        ended = []
        now = time.monotonic()
        for entry in list(self.items.values()):
            if entry.reporter is not None:
                entry.reporter.flush()  # a throttled update of an item gone quiet
            if entry.returncode is None and entry.pidfd is None:
                self._reap(entry, block=False)
                if entry.returncode is None and entry.eof:
                    self._watch_exit(entry)
            if entry.returncode is None:
                continue
            if not entry.eof and now - (entry.exited_at or now) < LEFTOVER_WAIT_S:
                continue  # give the pipe a moment to drain
            ended.append((entry.record, self._close(entry)))
        return ended

    def _reap_adopted(self) -> None:
        """Reap every exited child: an item's exit is recorded for it, anything else is an
        orphan re-parented to the worker."""
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None:
                return
            entry = self.items.get(info.si_pid)
            if entry is not None and entry.returncode is None:
                self._reap(entry, block=True)
            else:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(info.si_pid, 0)

    def _watch(self, fd: int, entry: _Running) -> None:
        self.watched[fd] = entry
        self.poller.register(fd, select.POLLIN)

    def _unwatch(self, fd: int) -> None:
        self.poller.unregister(fd)
        del self.watched[fd]

    def _watch_exit(self, entry: _Running) -> None:
        """Poll the item's pidfd (Linux 5.3+); elsewhere each pass's reap finds the exit."""
        with contextlib.suppress(AttributeError, OSError):
            entry.pidfd = os.pidfd_open(entry.pid)
            self._watch(entry.pidfd, entry)

    def _reap(self, entry: _Running, block: bool) -> None:
        """Collect the item's exit status (``block``: it is known to have exited)."""
        try:
            pid, status = os.waitpid(entry.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere (psutil, when it was terminated)
            pid, status = entry.pid, None
        if pid == 0:
            return
        entry.returncode = -signal.SIGKILL if status is None else os.waitstatus_to_exitcode(status)
        entry.exited_at = time.monotonic()
        if entry.pidfd is not None:
            self._unwatch(entry.pidfd)
            os.close(entry.pidfd)
            entry.pidfd = None

    def _close(self, entry: _Running) -> Outcome:
        if not entry.eof:
            # Something the item left behind still holds the pipe: its group goes with it.
            with contextlib.suppress(OSError):
                os.killpg(entry.pid, signal.SIGKILL)
            self._unwatch(entry.fd)
            entry.eof = True
        assert entry.writer is not None and entry.returncode is not None
        entry.writer.close()
        if entry.reporter is not None:
            entry.reporter.close()
        os.close(entry.fd)
        del self.items[entry.pid]
        assert entry.writer is not None
        last = entry.writer.last_line.decode("utf-8", "replace").strip()
        return _outcome(entry.record, entry.returncode, entry.last_error or last)

    def interrupt_all(self, grace: float) -> list[tuple[ItemRecord, Outcome]]:
        """Stop every running item and say how each ended.

        SIGTERM goes to each item's process group (as Ctrl-C in a terminal would), its output
        is still copied to the log for up to ``grace`` seconds while it cleans up, then what
        is left gets SIGKILL; what the items print on their way out is drained, not lost.
        """
        ended = []
        self._signal_running(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while self.items and (left := deadline - time.monotonic()) > 0:
            ended += self.wait(min(left, STEP_S))
        self._signal_running(signal.SIGKILL)
        deadline = time.monotonic() + KILL_WAIT_S
        while self.items and time.monotonic() < deadline:
            ended += self.wait(STEP_S)
        for entry in list(self.items.values()):
            entry.returncode = -signal.SIGKILL if entry.returncode is None else entry.returncode
            ended.append((entry.record, self._close(entry)))
        return ended

    def _signal_running(self, sig: signal.Signals) -> None:
        """Signal the process group of each item not yet collected (so still ours)."""
        for entry in self.items.values():
            if entry.returncode is None:
                with contextlib.suppress(OSError):
                    os.killpg(entry.pid, sig)

    def close(self) -> None:
        """Nothing to release: the poll object holds no descriptor of its own."""


def _outcome(record: ItemRecord, code: int, last: str) -> Outcome:
    """An item's exit code (and what it last said, for the error) as an Outcome."""
    last = last[:500]
    if code == 0:
        return Outcome(ok=True, exit_code=0)
    if code == EX_TEMPFAIL:
        reason = last or f"item {record.item!r} asked to pause (exit {EX_TEMPFAIL})"
        return Outcome(ok=False, exit_code=code, error=reason, pause=Pause(reason))
    return Outcome(ok=False, exit_code=code, error=exit_reason(code, last, exited="exit code"))
