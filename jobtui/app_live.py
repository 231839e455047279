"""The dashboard's data loops: file events, the paced refresh, the poll, the other hosts.

Data flows one way. A background watcher turns file events into refresh requests; one
refresh loop re-reads the database only when ``PRAGMA data_version`` moved (through one
long-lived aiosqlite connection, off the UI thread), merges in the jobs the other hosts
streamed (``jobtui.hosts``), hands the snapshot to the model (``jobtui.model``) and asks the
dashboard screen (``jobtui.dashboard``) to redraw what changed. A slow poll is the safety
net: it re-checks the version, measures CPU and memory, and runs ``jobcore.ops.reconcile``
in a thread, so a dead worker turns failed with no key pressed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Sequence

from textual import on, work
from textual.app import App
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from jobcore.ops.dispatch import ensure
from jobcore.ops.reconcile import reconcile
from jobcore.state.models import Job, JobStatus
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from jobtui.backoff import Backoff
from jobtui.columns import one_line
from jobtui.dashboard import DashboardScreen
from jobtui.data import PAGE_SIZE, JobReader, Snapshot
from jobtui.hosts import RemoteHosts
from jobtui.messages import UsageMeasured, WatchUnavailable
from jobtui.model import DashboardModel
from jobtui.usage import TreeUsage
from jobtui.watcher import ChangeSource, StateWatcher

POLL_S = 2.0
"""Liveness, CPU/memory and elapsed times of running jobs, and the safety-net look at
``data_version`` (file events are hints and may be missed)."""
VERSION_POLL_S = 0.5
"""A look at ``data_version`` this often whatever the watcher says, as file events can be lost
(docs/decisions/0020-data-version-polling.md)."""
REFRESH_RETRY_S = (0.5, 8.0)
"""First and longest wait before the refresh loop reads again after a failed read."""
POLL_RETRY_S = (POLL_S, 30.0)
"""First and longest wait before the poll runs again after it failed."""
MIN_REFRESH_S = 0.05
"""Bursts of commits are re-read at most this often (a lone commit is read at once)."""
MAX_REFRESH_S = 1.0
"""However busy the jobs are, the screen is at most this far behind."""
CPU_BUDGET = 0.025
"""Share of a core refreshing may use: a cheap refresh comes at once, a costly one waits
(docs/decisions/0021-dashboard-redraws-only-what-changed.md)."""

TOASTS_AT_ONCE = 3
"""More jobs ending together than this get one toast between them, not one each."""
ENDINGS_GATHER_S = 0.5
"""Endings are gathered this long before they are toasted, so a burst is seen as one."""


class LiveApp(App[None]):
    """The app's data: what is read, when, and what it costs; ``JobApp`` builds on it."""

    def __init__(
        self,
        state: StateDir,
        *,
        clock: Callable[[], float] = time.time,
        watcher: ChangeSource | None = None,
        live: bool = True,
        page_size: int = PAGE_SIZE,
        hosts: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.state = state
        """The state folder shown."""
        self.clock = clock
        """Wall-clock time for elapsed times (fixed in snapshot tests)."""
        self.watcher: ChangeSource = watcher or StateWatcher(state.root)
        """Where change hints come from (tests inject one that cannot start)."""
        self.live = live
        """Watch, poll and reconcile; False shows one fixed snapshot (screenshots, tests)."""
        self.watching = False
        """File events are arriving; False means the app is polling."""
        self.hosts = RemoteHosts(hosts, self.request_refresh, self._host_problem, clock=clock)
        """Other machines shown beside the local state folder (``--host``, config ``hosts``)."""
        self.model = DashboardModel(host_of=self.hosts.host_of if self.hosts else None)
        """Rows, selection, marks, sort and filter: everything shown, apart from widgets."""
        self.reader = JobReader(state.db_path, page_size)
        self.reads = 0
        """Snapshots read so far (tests and the benchmark count re-reads)."""
        self.data_version: int | None = None
        """``PRAGMA data_version`` at the last read."""
        self.dashboard = DashboardScreen()
        """The main screen."""
        self.local = Snapshot()
        """The last read of the local state folder (the hosts' jobs are merged into it)."""
        self._meter = TreeUsage(state)
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        """One thread at a time uses the shared store (poll and actions run in threads)."""
        self._refresh_wanted = asyncio.Event()
        self._refresh_taken = asyncio.Event()
        """Set when the refresh loop starts reading: what changes after needs another look."""
        self._force_read = True
        self._refresher: Worker[None] | None = None
        self._polling = False
        """The poll has started (it then reschedules itself)."""
        self._endings: list[Job] = []
        """Jobs that ended and are not toasted yet (gathered for ENDINGS_GATHER_S)."""
        self.failing = {
            "refresh": Backoff(*REFRESH_RETRY_S),
            "poll": Backoff(*POLL_RETRY_S),
        }
        """The background loops, each with its failures since its last success."""

    # -- start and stop ---------------------------------------------------------------------------

    async def start_loops(self) -> None:
        """Open the store and the reader, then start reading (and, when live, watching)."""
        # Every Store is opened before the reader: Store() closes a raw descriptor of the db,
        # which drops this process's SQLite locks
        # (docs/decisions/0018-never-close-a-database-descriptor.md).
        self._store = await asyncio.to_thread(Store, self.state)
        await self.reader.open()
        self._refresher = self._refresh_loop()
        if self.live:
            self.watching = True
            self._watch()
            self.set_timer(POLL_S, self._first_poll)  # if the first read takes that long
            self.set_interval(VERSION_POLL_S, self.request_refresh)
            if self.hosts:
                self.hosts.start()
        self.show_mode()
        self.request_refresh()

    async def stop_loops(self) -> None:
        self.watcher.stop()
        await self.hosts.stop()
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(WorkerCancelled, WorkerFailed):
                await self._refresher.wait()
        await self.reader.close()
        if self._store is not None:
            with self._store_lock:
                self._store.close()

    def show_mode(self, reason: str | None = None) -> None:
        """The subtitle says where the data comes from and how fresh it is."""
        mode = "live" if self.watching else f"polling every {VERSION_POLL_S}s"
        if not self.live:
            mode = "snapshot"
        failing = [f"{name}: {b.error}" for name, b in self.failing.items() if b.failures]
        if failing:
            mode, reason = "not live", "; ".join(failing) + "; retrying"
        group = self.model.group
        shown = "" if group is None else f" · group {group}"
        self.sub_title = f"{self.state.root}{shown} · {mode}" + (f" ({reason})" if reason else "")
        if self.hosts:
            self.sub_title += f" · {self.hosts.summary()}"

    def _host_problem(self, host: str, message: str) -> None:
        """A host went offline or cannot be reached: say why, once per change of reason."""
        self.notify(message, title=f"host {host}", severity="warning")
        self.show_mode()

    # -- reading ----------------------------------------------------------------------------------

    def request_refresh(self, force: bool = False) -> None:
        """Ask the refresh loop for a look; requests made while it works merge into one."""
        self._force_read = self._force_read or force
        self._refresh_taken.clear()
        self._refresh_wanted.set()

    @work(exclusive=True, group="refresh")
    async def _refresh_loop(self) -> None:
        """The only reader: one refresh at a time, paced to stay within CPU_BUDGET.

        A refresh's cost is the UI thread's time applying it and drawing the panels it
        changed (``thread_time``: this loop runs on the UI thread). Reading happens in
        aiosqlite's thread, and what runs while the loop awaits is not its cost.
        """
        cost, wall_mark = 0.0, time.monotonic()
        while True:
            await self._refresh_wanted.wait()
            self._refresh_wanted.clear()
            # Drawing follows a refresh, so its time is collected now; then rest = cost /
            # budget - time already passed. The first load and paint are paid once.
            drawn = self.dashboard.take_render_time()
            cost = cost + drawn if self.reads > 1 else 0.0
            rest = cost / CPU_BUDGET - (time.monotonic() - wall_mark)
            await asyncio.sleep(min(MAX_REFRESH_S, max(0.0, rest)))
            self._refresh_wanted.clear()
            self._refresh_taken.set()
            wall_mark, cost = time.monotonic(), 0.0
            try:
                cost = await self._refresh_once()
            except Exception as exc:  # a failed read must not end the loop, nor the app
                if not self.is_running:
                    return
                self._force_read = True
                await asyncio.sleep(self._loop_failed("refresh", exc))
                self._refresh_wanted.set()
                continue
            if not self.is_running:  # screens close before this worker is cancelled
                return
            self._loop_succeeded("refresh")
            await asyncio.sleep(MIN_REFRESH_S)

    async def _refresh_once(self) -> float:
        """Read if anything was committed, apply it, follow the detail; returns the cost."""
        cost = 0.0
        version = await self.reader.data_version()
        hosts_changed = self.hosts.take_changed()
        if self._force_read or version != self.data_version or hosts_changed:
            if self._force_read or version != self.data_version:
                self.local = await self.reader.read(self.model.filter_text, self.model.group)
            snapshot = self.hosts.merged(self.local, self.model.filter_text, self.model.group)
            if hosts_changed:
                self.show_mode()
            self._force_read = False
            self.data_version = version
            self.reads += 1
            if not self.is_running:
                return cost
            started = time.thread_time()
            self._apply(snapshot)
            cost = time.thread_time() - started
        await self.dashboard.refresh_detail()
        return cost

    def _loop_failed(self, name: str, exc: BaseException) -> float:
        """One toast when a loop starts failing, the title says so; returns the wait."""
        backoff = self.failing[name]
        wait = backoff.failed(exc)
        if backoff.failures == 1:
            self.notify(f"{backoff.error}; retrying", title=f"{name} failed", severity="error")
            self.show_mode()
        return wait

    def _loop_succeeded(self, name: str) -> None:
        if self.failing[name].succeeded():
            self.show_mode()

    def _apply(self, snapshot: Snapshot) -> None:
        """Give the model a snapshot, toast what ended, redraw what changed."""
        self.dashboard._take_cursor()
        ended = self.model.update(snapshot)
        if ended and not self._endings:
            self.set_timer(ENDINGS_GATHER_S, self._toast_endings)
        self._endings.extend(ended)
        if self.live:
            self._first_poll()  # the jobs to measure are known now
        counts = self.local.counts
        self.watcher.pace(live=bool(counts.get(JobStatus.RUNNING) or counts.get(JobStatus.QUEUED)))
        self.dashboard.show_model(loaded=True)

    def _toast_endings(self) -> None:
        """A toast per ended job, or one for them all when there are more than a few."""
        ended, self._endings = self._endings, []
        failed = [job for job in ended if job.status is JobStatus.FAILED]
        if len(ended) <= TOASTS_AT_ONCE:
            for job in ended:
                reason = f": {job.reason}" if job.reason else ""
                self.notify(
                    f"{one_line(job.label)[:60]}{reason}",
                    title=f"job {job.id} {job.status.value}",
                    severity="error" if job in failed else "information",
                )
            return
        counts = {
            status: sum(1 for job in ended if job.status is status)
            for status in (JobStatus.COMPLETED, JobStatus.FAILED)
        }
        parts = [f"{n:,} {status.value}" for status, n in counts.items() if n]
        how = next(s.value for s, n in counts.items() if n) if len(parts) == 1 else "finished"
        title = f"{len(ended):,} jobs {how}"
        names = ", ".join(one_line(job.label)[:30] for job in ended[:TOASTS_AT_ONCE])
        more = f" and {len(ended) - TOASTS_AT_ONCE:,} more" if len(ended) > TOASTS_AT_ONCE else ""
        body = (" · ".join(parts) + "\n" if len(parts) > 1 else "") + names + more
        self.notify(body, title=title, severity="error" if failed else "information")

    # -- file events and the poll -----------------------------------------------------------------

    @work(exclusive=True, group="watch", exit_on_error=False)
    async def _watch(self) -> None:
        try:
            async for _ in self.watcher.changes():
                # Called directly, not by message, then wait for the refresh loop to take it:
                # a burst of commits is one batch
                # (docs/decisions/0019-dashboard-wakes-on-wal-events.md).
                self.request_refresh()
                await self._refresh_taken.wait()
        except (OSError, RuntimeError) as exc:  # watchfiles' internal errors are RuntimeErrors
            self.post_message(WatchUnavailable(f"{type(exc).__name__}: {exc}"))

    def on_watch_unavailable(self, message: WatchUnavailable) -> None:
        self.watching = False
        self.show_mode(f"watching unavailable: {message.reason}")

    def _first_poll(self) -> None:
        """Start the poll once: after the first read, or POLL_S after start if that is late."""
        if not self._polling:
            self._polling = True
            self._poll()

    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def _poll(self) -> None:
        """Liveness and resource use, in a thread; the result comes as ``UsageMeasured``.

        The next poll is scheduled when this one ends, failed or not (``_poll_ended``).
        """
        with self._store_lock:
            assert self._store is not None
            changed = reconcile(self._store)
            ensure(self._store.state, self._store)  # waiting jobs get a dispatcher
        usage = self._meter.measure(self.local.jobs.get(JobStatus.RUNNING, []))
        self.post_message(UsageMeasured(usage, bool(changed)))

    def on_usage_measured(self, message: UsageMeasured) -> None:
        self.model.usage = message.usage
        # Through the refresh loop, so moving elapsed times and usage is paced like any other
        # change (not drawn behind its back, delaying the next progress update).
        running = bool(self.model.snapshot.jobs.get(JobStatus.RUNNING))
        self.request_refresh(force=message.changed or running)

    @on(Worker.StateChanged)
    def _poll_ended(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "poll" or not self.is_running:
            return
        if event.state is WorkerState.SUCCESS:
            self._loop_succeeded("poll")
            self.set_timer(POLL_S, self._poll)
        elif event.state is WorkerState.ERROR:
            assert worker.error is not None
            self.set_timer(self._loop_failed("poll", worker.error), self._poll)

    def _from_thread(self, callback: Callable[..., object], *args: object, **kw: object) -> None:
        """``call_from_thread`` that is quiet when the app has already closed."""
        with contextlib.suppress(RuntimeError):
            self.call_from_thread(callback, *args, **kw)
