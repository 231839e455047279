"""The dashboard's other machines: one ``ssh HOST jobcore ls --watch --json`` stream per host.

Each host's jobs join the local ones in the same panels, their ids qualified as ``HOST/ID``
(job ids never hold a ``/``), so selection, filtering and toasts work across hosts unchanged
and the HOST column names where a job runs. A host whose stream ends, or goes silent for
longer than its heartbeat allows, is offline at once: its last snapshot stays on screen,
greyed, with its age, and the stream is started again with a growing wait, saying why it
cannot connect. Actions and the log view of a remote job are one-shot ``ssh HOST jobcore ...``
commands through the same shared connection (``jobcore.ops.remote``).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from jobcore.base.addresses import check_host
from jobcore.base.errors import JobcoreError
from jobcore.ops import remote
from jobcore.state.models import Job, JobStatus
from jobtui.backoff import Backoff
from jobtui.data import Snapshot

HEARTBEAT_S = 2.0
"""What the dashboard asks each stream for: a line at least this often."""
SILENCE_S = 3 * HEARTBEAT_S + 1
"""A stream silent this long is dead (a dropped network says nothing): offline within 10 s."""
RECONNECT_S = (1.0, 30.0)
"""First and longest wait before connecting again."""
LOG_LINES = 200
LOG_EVERY_S = 2.0
"""A remote job's log view is fetched again this often while it is shown."""
LINE_LIMIT = 64 * 1024 * 1024
"""The longest stream line read (a snapshot of hundreds of jobs is a few hundred KB)."""
SEPARATOR = "/"

ACTION_ARGS: dict[str, str] = {
    "stop": "stop",
    "kill": "kill",
    "resume": "resume",
    "retry": "retry",
    "restart": "restart",
    "rm": "rm",
    "hold": "hold",
    "release": "release",
    "start": "start",
}
"""The dashboard's job keys as ``jobcore`` commands (what the same key does locally)."""


def qualified(host: str, job_id: str) -> str:
    return f"{host}{SEPARATOR}{job_id}"


def split_id(job_id: str) -> tuple[str | None, str]:
    """``(host, id)`` of a row's id; a local job's host is None."""
    host, sep, bare = job_id.rpartition(SEPARATOR)
    return (host, bare) if sep else (None, job_id)


def matches(job: Job, host: str, text: str, group: str | None) -> bool:
    """The dashboard's filter (see ``jobtui.data``), on a job of another host: its host too."""
    if group is not None and job.queue.group != group:
        return False
    if not text:
        return True
    haystack = f"{job.id} {job.name or ''} {job.command_line} {job.current_item or ''}"
    return text.lower() in f"{host} {haystack}".lower()


def _age(seconds: float) -> str:
    """How long ago, in one unit (``40s``, ``2m``, ``3h``, ``5d``): it fits a narrow column."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(0, int(seconds))}s"


@dataclass
class Host:
    """What the dashboard knows of one other machine."""

    name: str
    """The ssh destination, as the user wrote it (an alias of ~/.ssh/config works)."""
    online: bool = False
    """Its stream is delivering lines."""
    jobs: dict[JobStatus, list[Job]] = field(default_factory=dict)
    """Its last snapshot, newest first per status (ids qualified)."""
    counts: dict[JobStatus, int] = field(default_factory=dict)
    last_seen: float | None = None
    """Wall-clock time of its last line (the age of an offline snapshot)."""
    problem: str = ""
    """Why it is offline or cannot connect, for people."""
    backoff: Backoff = field(default_factory=lambda: Backoff(*RECONNECT_S))
    raw: dict[str, tuple[dict[str, object], Job]] = field(default_factory=dict)
    """The last JSON of each job and the Job made of it: unchanged jobs are not rebuilt."""

    def label(self, now: float) -> str:
        """The HOST cell: its name, and how long ago it was seen when it is offline."""
        if self.online:
            return self.name
        if self.last_seen is None:
            return f"{self.name} unreachable"
        return f"{self.name} offline {_age(now - self.last_seen)}"


class RemoteHosts:
    """The streams of the dashboard's other hosts, and actions on their jobs."""

    def __init__(
        self,
        names: Sequence[str],
        on_change: Callable[[], None],
        on_problem: Callable[[str, str], None],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.hosts = {name: Host(check_host(name)) for name in dict.fromkeys(names)}
        """The hosts, by name, in the order given."""
        self.on_change = on_change
        """Called (on the app's event loop) when a host's jobs or state changed."""
        self.on_problem = on_problem
        """Called with (host, message) when a host goes offline or cannot be reached."""
        self.clock = clock
        self.changed = False
        """Something changed since the last ``take_changed``."""
        self._tasks: list[asyncio.Task[None]] = []
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._aged_at = 0.0
        self._merged: dict[JobStatus, list[Job]] = {}
        self._labels: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.hosts)

    # -- streams -----------------------------------------------------------------------------

    def start(self) -> None:
        """One stream per host, on the running event loop (the app's)."""
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._follow(host)) for host in self.hosts.values()]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []

    def reconnect(self, name: str) -> None:
        """Read the host afresh: end its stream (it starts again with a new snapshot)."""
        proc = self._procs.get(name)
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()

    async def _follow(self, host: Host) -> None:
        """Connect, read, and after each end wait (growing) and connect again; until cancelled."""
        while True:
            was_online, known = host.online, host.problem
            failure = await self._read_stream(host)
            host.online, host.problem = False, failure
            self._changed()
            if failure and (was_online or failure != known):  # once per reason
                self.on_problem(host.name, failure)
            await asyncio.sleep(host.backoff.failed(RuntimeError(host.problem)))

    async def _read_stream(self, host: Host) -> str:
        """One connection's life; returns why it ended, for people."""
        args = ["ls", "--watch", "--json", "--heartbeat", str(HEARTBEAT_S)]
        try:
            argv = remote.jobcore_argv(host.name, args)
        except JobcoreError as exc:
            return str(exc)
        # stderr to a file: a ControlPersist master this ssh starts keeps it open for long.
        with tempfile.TemporaryFile(dir=remote.control_dir()) as err:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=err,
                    limit=LINE_LIMIT,
                )
            except OSError as exc:
                return f"cannot run {argv[0]}: {exc.strerror}"
            self._procs[host.name] = proc
            why = ""
            try:
                why = await self._read_lines(host, proc)
            finally:
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                code = await proc.wait()
            err.seek(0)
            stderr = err.read().decode(errors="replace")
        failure = remote.explain(host.name, code, stderr)
        if failure is not None:
            return failure.message
        last = next((ln for ln in reversed(stderr.splitlines()) if ln.strip()), "")
        return why or last.strip() or f"the stream on {host.name} ended (exit {code})"

    async def _read_lines(self, host: Host, proc: asyncio.subprocess.Process) -> str:
        """Apply each line until the stream ends or goes silent; returns why it stopped."""
        assert proc.stdout is not None
        shift: float | None = None
        while True:
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), SILENCE_S)
            except TimeoutError:
                return f"no word from {host.name} for {SILENCE_S:.0f}s (connection lost?)"
            except ValueError:  # a line over LINE_LIMIT
                return f"a line from {host.name} was too long"
            if not line:
                return ""
            try:
                frame = remote.parse_line(line)
            except remote.StreamError as exc:
                return f"{host.name}: {exc}"
            now = self.clock()
            if shift is None:
                shift = now - frame.clock
            host.last_seen = now
            if frame.kind == "snapshot":
                try:
                    self._take_snapshot(host, frame, shift)
                except remote.StreamError as exc:
                    return f"{host.name}: {exc}"
            if not host.online:
                host.online, host.problem = True, ""
                host.backoff.succeeded()
                self._changed()

    def _take_snapshot(self, host: Host, frame: remote.Frame, shift: float) -> None:
        raw: dict[str, tuple[dict[str, object], Job]] = {}
        jobs: dict[JobStatus, list[Job]] = {status: [] for status in JobStatus}
        for data in frame.jobs:
            job_id = str(data.get("id"))
            seen = host.raw.get(job_id)
            if seen is not None and seen[0] == data:
                job = seen[1]
            else:
                job = remote.job_from_json(data, shift)
                job = job._replace(id=qualified(host.name, job.id))
            raw[job_id] = (data, job)
            jobs[job.status].append(job)
        host.raw, host.jobs = raw, jobs
        host.counts = {status: frame.counts.get(status.value, 0) for status in JobStatus}
        self._changed()

    def _changed(self) -> None:
        self.changed = True
        self.on_change()

    # -- what the dashboard shows ------------------------------------------------------------

    def take_changed(self) -> bool:
        """Whether the panels need the hosts' jobs again (an offline age ticks each second)."""
        now = time.monotonic()
        if any(not h.online for h in self.hosts.values()) and now - self._aged_at >= 1.0:
            self._aged_at = now
            self.changed = True
        changed, self.changed = self.changed, False
        return changed

    def merged(self, local: Snapshot, text: str, group: str | None) -> Snapshot:
        """The local snapshot with every host's jobs that pass the filter, newest first."""
        if not self.hosts:
            return local
        jobs: dict[JobStatus, list[Job]] = {}
        counts = dict(local.counts)
        now = self.clock()
        labels = tuple(host.label(now) for host in self.hosts.values())
        same_labels, self._labels = labels == self._labels, labels
        for status in JobStatus:
            found = list(local.jobs.get(status, []))
            for host in self.hosts.values():
                shown = [j for j in host.jobs.get(status, []) if matches(j, host.name, text, group)]
                found.extend(shown)
                total = host.counts.get(status, 0) if not text and group is None else len(shown)
                counts[status] = counts.get(status, 0) + total
            if len(found) > len(local.jobs.get(status, [])):
                found.sort(key=lambda job: job.created_at, reverse=True)
            previous = self._merged.get(status)
            # The same list object tells the panel nothing changed: not when a host's label did.
            jobs[status] = previous if same_labels and previous == found else found
        self._merged = jobs
        return Snapshot(jobs, counts)

    def host_of(self, job: Job) -> tuple[str, bool]:
        """The HOST cell of a row and whether the row is greyed (its host is offline)."""
        name, _ = split_id(job.id)
        host = self.hosts.get(name) if name is not None else None
        if host is None:
            return "local", False
        return host.label(self.clock()), not host.online

    def groups(self) -> set[str]:
        return {
            job.queue.group
            for host in self.hosts.values()
            for jobs in host.jobs.values()
            for job in jobs
        }

    def summary(self) -> str:
        """The subtitle's word on the hosts: which are offline, and why."""
        now = self.clock()
        parts = [
            host.label(now) + (f" ({host.problem})" if host.problem else "")
            for host in self.hosts.values()
            if not host.online
        ]
        online = sum(1 for host in self.hosts.values() if host.online)
        return f"{online}/{len(self.hosts)} hosts live" + (": " + "; ".join(parts) if parts else "")

    # -- one-shot commands (called from threads) -----------------------------------------------

    def act(self, action: str, job_id: str) -> tuple[str, str]:
        """Run a job key on the remote job; returns (severity, message) for a toast.

        A connection that broke while the command ran leaves its outcome unknown: the
        dashboard says so and reads the host afresh rather than guessing.
        """
        name, bare = split_id(job_id)
        assert name is not None
        try:
            outcome = remote.run_once(name, [ACTION_ARGS[action], bare])
        except JobcoreError as exc:  # the ssh command could not even be made
            return "error", f"{action} of {job_id} not done: {exc}"
        said = (outcome.stderr.strip() or outcome.stdout.strip()).splitlines()
        last = said[-1].removeprefix("jobcore: error: ") if said else ""
        if outcome.failure is not None:
            if outcome.failure.connecting:
                return "error", f"{action} of {job_id} not done: {outcome.failure.message}"
            return "warning", (
                f"outcome of {action} on {job_id} unknown: {outcome.failure.message}; "
                "reading the host again"
            )
        if outcome.code != 0:
            return "error", f"{name}: {last or f'jobcore {action} exited {outcome.code}'}"
        if action == "restart" and outcome.stdout.strip():
            return "information", f"restarted job {job_id} as {outcome.stdout.strip()}"
        return "information", f"{name}: {last or f'job {bare}: {action} done'}"

    def read_log(self, job_id: str, lines: int = LOG_LINES) -> str:
        """The end of a remote job's log (``jobcore logs -n``), or why it could not be read."""
        name, bare = split_id(job_id)
        assert name is not None
        try:
            outcome = remote.run_once(name, ["logs", "-n", str(lines), bare], timeout=30)
        except JobcoreError as exc:
            return f"[log unavailable: {exc}]\n"
        if outcome.failure is not None:
            return f"[log unavailable: {outcome.failure.message}]\n"
        if outcome.code != 0:
            return f"[log unavailable: {outcome.stderr.strip()}]\n"
        return outcome.stdout


def host_names(given: Iterable[str], configured: Iterable[str]) -> list[str]:
    """The hosts to show: ``--host`` ones first, then the config's, each once, all checked."""
    return [check_host(name) for name in dict.fromkeys([*given, *configured])]
