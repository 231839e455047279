"""The dashboard app: status panels, the detail of the selected job, and the keys.

Data flows one way. A background watcher turns file events into refresh requests; one
refresh loop re-reads the database only when ``PRAGMA data_version`` moved (through one
long-lived aiosqlite connection, off the UI thread) and updates rows in place. A slow poll is
the safety net: it re-checks the version, measures CPU and memory, and runs
``jobcore.ops.reconcile`` in a thread, so a dead worker turns failed with no key pressed.
Actions go the other way, through the same ``jobcore`` calls the CLI makes, in thread workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.events import DescendantFocus
from textual.reactive import reactive
from textual.widgets import DataTable, Header, Input, Static
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from jobcore.base.errors import JobcoreError
from jobcore.ops.dispatch import ensure
from jobcore.ops.edit import edit_in_editor
from jobcore.ops.housekeeping import clean
from jobcore.ops.reconcile import reconcile
from jobcore.state.launch_env import redactor_for
from jobcore.state.live_line import read_live
from jobcore.state.models import Job, JobStatus
from jobcore.state.paths import StateDir
from jobcore.state.store import Store
from jobtui.actions import EDITABLE, JOB_ACTIONS, JobAction
from jobtui.backoff import Backoff
from jobtui.commands import JobCommands
from jobtui.data import FINAL_STATUSES, PAGE_SIZE, JobReader, Snapshot
from jobtui.hosts import LOG_EVERY_S, RemoteHosts, split_id
from jobtui.messages import WatchUnavailable
from jobtui.usage import TreeUsage, Usage
from jobtui.watcher import ChangeSource, StateWatcher
from jobtui.widgets.confirm import ConfirmDialog
from jobtui.widgets.detail import DetailPane
from jobtui.widgets.footer import JobFooter
from jobtui.widgets.help_screen import HelpScreen
from jobtui.widgets.job_table import JobTable, one_line
from jobtui.widgets.log_tail import LogTail
from jobtui.widgets.palette import Palette

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
EMPTY_HINT = (
    "No jobs yet. Start one with [b]jobcore run -- COMMAND[/b]"
    " or try [b]python -m jobtui.demo[/b]."
)

PANEL_ORDER = (
    JobStatus.RUNNING,
    JobStatus.QUEUED,
    JobStatus.PAUSED,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
    JobStatus.COMPLETED,
)


class JobApp(App[None]):
    """``jobtui``: the live dashboard of one state folder."""

    CSS_PATH = Path(__file__).with_name("jobtui.tcss")
    """Absolute, so subclasses in other folders (benchmarks, tests) find it too."""
    AUTO_FOCUS = None
    """The first panel with jobs takes focus once data arrives, not the hidden filter."""
    TITLE = "jobtui"
    COMMANDS = App.COMMANDS | {JobCommands}
    """The palette (ctrl+p) lists the selected job's actions before Textual's own."""
    BINDINGS = [  # noqa: RUF012 - Textual merges class-level BINDINGS
        Binding("s", "stop", "Stop", id="stop", tooltip="Stop the job; it becomes paused"),
        Binding("r", "resume", "Resume", id="resume", tooltip="Start a paused job again"),
        Binding("R", "retry", "Retry", id="retry", tooltip="Run a failed job again"),
        Binding("K", "kill", "Kill", id="kill", tooltip="Kill the job's process tree now"),
        Binding("t", "restart", "Restart", id="restart", tooltip="Run a finished job again"),
        Binding("x", "rm", "Remove", id="rm", tooltip="Remove a finished job and its log"),
        Binding("e", "edit", "Edit", id="edit", tooltip="Edit a queued or paused job in $EDITOR"),
        Binding("c", "clean", "Clean", id="clean", show=False, tooltip="Remove finished jobs"),
        Binding("l", "toggle_log", "Log", id="toggle-log", tooltip="Show or hide the log"),
        Binding("slash", "filter", "Filter", id="filter", tooltip="Filter jobs by text"),
        Binding("g", "cycle_group", "Group", id="group", show=False, tooltip="Next group"),
        Binding("question_mark", "help", "Help", id="help", tooltip="All keys"),
        Binding("escape", "back", "Back", id="back", tooltip="Close the detail or filter"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit; jobs keep running"),
    ]

    detail_open: reactive[bool] = reactive(False, init=False)
    """The detail pane of the selected job is shown."""
    show_log: reactive[bool] = reactive(True, init=False)
    """The detail pane includes the live log tail."""
    filter_text: reactive[str] = reactive("", init=False)
    """Only jobs whose id, name, command or current item contain this are listed."""
    group: reactive[str | None] = reactive(None, init=False)
    """Only jobs of this queue group are listed (None: every group)."""

    def __init__(
        self,
        state: StateDir,
        *,
        clock: Callable[[], float] = time.time,
        watcher: ChangeSource | None = None,
        live: bool = True,
        page_size: int = PAGE_SIZE,
        blink: bool = True,
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
        self.blink = blink
        """Blink the filter's cursor (off for reproducible screenshots)."""
        self.watching = False
        """File events are arriving; False means the app is polling."""
        self.selected_id: str | None = None
        """The job the keys act on: the cursor's job in the focused panel."""
        self.snapshot = Snapshot()
        """The last data read."""
        self.palette = Palette.plain()
        """Cell colours from the current theme."""
        self.reader = JobReader(state.db_path, page_size)
        self.usage: Mapping[str, Usage] = {}
        """CPU and memory per running job, from the last poll."""
        self.reads = 0
        """Snapshots read so far (tests and the benchmark count re-reads)."""
        self._meter = TreeUsage(state)
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        """One thread at a time uses the shared store (poll and actions run in threads)."""
        self._refresh_wanted = asyncio.Event()
        self._refresh_taken = asyncio.Event()
        """Set when the refresh loop starts reading: what changes after needs another look."""
        self._force_read = True
        self._version: int | None = None
        self._detail_shown: tuple[object, ...] | None = None
        self._keys_state: tuple[object, ...] = ()
        self._refresher: Worker[None] | None = None
        self._endings: list[Job] = []
        """Jobs that ended and are not toasted yet (gathered for ENDINGS_GATHER_S)."""
        self.failing = {
            "refresh": Backoff(*REFRESH_RETRY_S),
            "poll": Backoff(*POLL_RETRY_S),
        }
        """The background loops, each with its failures since its last success."""
        self.tables: dict[JobStatus, JobTable] = {}
        """The status panels, by status."""
        self.filter_input: Input
        """The text filter (hidden until ``/``)."""
        self.detail: DetailPane
        """The selected job's detail (hidden until enter)."""
        self.log_tail: LogTail
        """The detail's live log."""
        self.empty_hint: Static
        """What an empty state folder shows."""
        self.hosts = RemoteHosts(hosts, self.request_refresh, self._host_problem, clock=clock)
        """Other machines shown beside the local state folder (``--host``, config ``hosts``)."""
        self._local = Snapshot()
        """The last read of the local state folder (the hosts' jobs are merged into it)."""
        self._remote_log: tuple[str, float] = ("", 0.0)
        """The remote job whose log the detail shows, and when it was last fetched."""

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(icon="▶")
        yield Input(placeholder="filter: id, name, command or item (escape clears)", id="filter")
        with VerticalScroll(id="panels"):
            yield Static("Loading jobs…", id="empty")
            for status in PANEL_ORDER:
                yield JobTable(status, id=f"panel-{status.value}")
        yield DetailPane(id="detail")
        yield JobFooter()

    async def on_mount(self) -> None:
        # Kept, not queried: while a modal is open, query() would search the modal's screen.
        self.tables = {table.status: table for table in self.query(JobTable)}
        if self.hosts:
            for table in self.tables.values():
                table.host_of = self.hosts.host_of
        self.filter_input = self.query_one("#filter", Input)
        self.detail = self.query_one("#detail", DetailPane)
        self.log_tail = self.query_one("#detail-log", LogTail)
        self.empty_hint = self.query_one("#empty", Static)
        self.filter_input.cursor_blink = self.blink
        self._apply_theme()
        self.watch(self, "theme", self._apply_theme, init=False)
        # Every Store is opened before the reader: Store() closes a raw descriptor of the db,
        # which drops this process's SQLite locks
        # (docs/decisions/0018-never-close-a-database-descriptor.md).
        self._store = await asyncio.to_thread(Store, self.state)
        await self.reader.open()
        self._refresher = self._refresh_loop()
        if self.live:
            self.watching = True
            self._watch()
            self.set_timer(0.05, self._poll)
            self.set_interval(VERSION_POLL_S, self.request_refresh)
            if self.hosts:
                self.hosts.start()
        self._show_mode()
        self.request_refresh()

    async def on_unmount(self) -> None:
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

    def _apply_theme(self) -> None:
        self.palette = Palette.from_app(self)
        for table in self.tables.values():
            table.palette = self.palette
            table.relayout(force=True)

    def _show_mode(self, reason: str | None = None) -> None:
        """The subtitle says where the data comes from and how fresh it is."""
        mode = "live" if self.watching else f"polling every {VERSION_POLL_S}s"
        if not self.live:
            mode = "snapshot"
        failing = [f"{name}: {b.error}" for name, b in self.failing.items() if b.failures]
        if failing:
            mode, reason = "not live", "; ".join(failing) + "; retrying"
        group = "" if self.group is None else f" · group {self.group}"
        self.sub_title = f"{self.state.root}{group} · {mode}" + (f" ({reason})" if reason else "")
        if self.hosts:
            self.sub_title += f" · {self.hosts.summary()}"

    def _host_problem(self, host: str, message: str) -> None:
        """A host went offline or cannot be reached: say why, once per change of reason."""
        self.notify(message, title=f"host {host}", severity="warning")
        self._show_mode()

    # -- live data ------------------------------------------------------------------------------

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
            drawn = sum(table.take_render_time() for table in self.tables.values())
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
        if self._force_read or version != self._version or hosts_changed:
            if self._force_read or version != self._version:
                self._local = await self.reader.read(self.filter_text, self.group)
            snapshot = self.hosts.merged(self._local, self.filter_text, self.group)
            if hosts_changed:
                self._show_mode()
            self._force_read = False
            self._version = version
            self.reads += 1
            if not self.is_running:
                return cost
            started = time.thread_time()
            self._apply(snapshot)
            cost = time.thread_time() - started
        await self._refresh_detail()
        return cost

    def _loop_failed(self, name: str, exc: BaseException) -> float:
        """One toast when a loop starts failing, the title says so; returns the wait."""
        backoff = self.failing[name]
        wait = backoff.failed(exc)
        if backoff.failures == 1:
            self.notify(f"{backoff.error}; retrying", title=f"{name} failed", severity="error")
            self._show_mode()
        return wait

    def _loop_succeeded(self, name: str) -> None:
        if self.failing[name].succeeded():
            self._show_mode()

    def _apply(self, snapshot: Snapshot) -> None:
        """Put a snapshot on screen, rewriting only panels and rows that changed.

        Styles, titles and footer keys are set only when they differ, as each costs a stylesheet
        pass or footer rebuild (docs/decisions/0021-dashboard-redraws-only-what-changed.md).
        """
        previous = self.snapshot
        self.snapshot = snapshot
        self._take_cursor()
        self._announce_endings(previous, snapshot)
        now = self.clock()
        for status, table in self.tables.items():
            jobs = snapshot.jobs.get(status, [])
            if jobs is not previous.jobs.get(status) or status is JobStatus.RUNNING:
                table.sync(jobs, now, self.usage)
            if table.display != bool(jobs):
                table.display = bool(jobs)
            count = snapshot.counts.get(status, 0)
            title = f"{status.value.title()} ({count:,})"
            if count > len(jobs):
                title = f"{status.value.title()} ({count:,}, newest {len(jobs):,} shown)"
            if table.border_title != title:
                table.border_title = title
        self.watcher.pace(
            live=bool(
                snapshot.counts.get(JobStatus.RUNNING) or snapshot.counts.get(JobStatus.QUEUED)
            )
        )
        empty = not any(snapshot.jobs.values())
        if self.reads == 1:
            self.empty_hint.update(EMPTY_HINT)
        if self.empty_hint.display != empty:
            self.empty_hint.display = empty
        self._follow_selection()
        self._refresh_keys()

    def _announce_endings(self, previous: Snapshot, snapshot: Snapshot) -> None:
        """Gather the jobs seen active before and finished now, to toast them shortly."""
        active = {
            job.id
            for status in (JobStatus.RUNNING, JobStatus.QUEUED)
            for job in previous.jobs.get(status, [])
        }
        if not active:
            return
        ended = [
            job
            for status in (JobStatus.COMPLETED, JobStatus.FAILED)
            for job in snapshot.jobs.get(status, [])
            if job.id in active
        ]
        if ended and not self._endings:
            self.set_timer(ENDINGS_GATHER_S, self._toast_endings)
        self._endings.extend(ended)

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

    def _refresh_keys(self) -> None:
        """Re-check which keys apply, when the selected job or its status changed."""
        job = self.selected_job
        state = (self.selected_id, job.status if job else None, self.detail_open)
        if state != self._keys_state:
            self._keys_state = state
            self.refresh_bindings()

    def _take_cursor(self) -> None:
        """The job under the focused panel's cursor is the selection, read before rows move.

        A cursor move reaches ``selected_id`` by an event, and a move to the next panel also
        waits for its focus: a refresh landing in between would put the cursor back on the
        job the user had just left (j at a panel's edge "did nothing" while jobs reported).
        """
        focused = self.focused
        if isinstance(focused, JobTable) and focused.cursor_job_id is not None:
            self.selected_id = focused.cursor_job_id

    def _follow_selection(self) -> None:
        """Keep the cursor on the selected job when it moves panel (running → paused)."""
        tables = self.tables.values()
        holder = next((t for t in tables if self.selected_id in t.jobs), None)
        if holder is None:
            focused = self.focused if isinstance(self.focused, JobTable) else None
            if focused is not None and focused.display and focused.row_count:
                self.selected_id = focused.cursor_job_id
                return
            holder = next((t for t in tables if t.display and t.row_count), None)
            if holder is None:
                self.selected_id = None
                return
            self.selected_id = holder.cursor_job_id
        if isinstance(self.focused, Input) or self.screen is not self.screen_stack[0]:
            return
        if self.focused is not holder:
            holder.focus()
        assert self.selected_id is not None
        row = holder.get_row_index(self.selected_id)
        if holder.cursor_row != row:
            holder.move_cursor(row=row, scroll=True)

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
        self._show_mode(f"watching unavailable: {message.reason}")

    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def _poll(self) -> tuple[Mapping[str, Usage], bool]:
        """Liveness and resource use, in a thread: (usage, whether any job changed).

        The next poll is scheduled when this one ends, failed or not (``_poll_ended``).
        """
        with self._store_lock:
            assert self._store is not None
            changed = reconcile(self._store)
            ensure(self._store.state, self._store)  # waiting jobs get a dispatcher
        usage = self._meter.measure(self.snapshot.jobs.get(JobStatus.RUNNING, []))
        return usage, bool(changed)

    @on(Worker.StateChanged)
    def _poll_ended(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "poll" or not self.is_running:
            return
        if event.state is WorkerState.SUCCESS:
            self._loop_succeeded("poll")
            self.usage, changed = worker.result
            # Through the refresh loop, so moving elapsed times and usage is paced like any
            # other change (not drawn behind its back, delaying the next progress update).
            running = bool(self.snapshot.jobs.get(JobStatus.RUNNING))
            self.request_refresh(force=changed or running)
            self.set_timer(POLL_S, self._poll)
        elif event.state is WorkerState.ERROR:
            assert worker.error is not None
            self.set_timer(self._loop_failed("poll", worker.error), self._poll)

    def _from_thread(self, callback: Callable[..., object], *args: object, **kw: object) -> None:
        """``call_from_thread`` that is quiet when the app has already closed."""
        with contextlib.suppress(RuntimeError):
            self.call_from_thread(callback, *args, **kw)

    # -- selection and detail ---------------------------------------------------------------

    @property
    def selected_job(self) -> Job | None:
        """The job the keys act on, as last read."""
        return self.snapshot.find(self.selected_id) if self.selected_id else None

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if not self.is_running:
            return
        if event.data_table is self.focused and event.row_key.value != self.selected_id:
            self.selected_id = event.row_key.value
            self._refresh_keys()
            self.request_refresh()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        if not self.is_running:
            return
        if isinstance(event.widget, JobTable) and event.widget.cursor_job_id:
            self.selected_id = event.widget.cursor_job_id
            self._refresh_keys()
            self.request_refresh()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.selected_id = event.row_key.value
        self.detail_open = True

    def watch_detail_open(self, open_: bool) -> None:
        self.detail.display = open_
        self._detail_shown = None
        self._refresh_keys()
        self.request_refresh()

    def watch_show_log(self, show: bool) -> None:
        self.log_tail.display = show
        self.detail.set_class(not show, "-no-log")
        self.detail.show_live(None)
        self.request_refresh()  # the live line comes back with the next look at the job

    async def _refresh_detail(self) -> None:
        """Keep the detail pane on the selected job: facts, rate sparkline and new log lines."""
        job = self.selected_job
        if not self.detail_open or job is None or not self.is_running:
            return
        if split_id(job.id)[0] is not None:
            await self._refresh_remote_detail(job)
            return
        now = self.clock() if job.status is JobStatus.RUNNING else 0.0
        key = (job, self._version, round(now))
        if key != self._detail_shown:
            self._detail_shown = key
            samples = await self.reader.samples(job.id)
            failed = await self.reader.failed_items(job.id) if job.is_batch else []
            running = await self.reader.running_items(job.id) if job.is_batch else []
            if failed or running:  # an item may be a credentialed URL: shown as the CLI shows it
                redact = redactor_for(self.state, job)
                failed = [(redact.text(i), n, redact.text(e)) for i, n, e in failed]
                running = [(redact.text(i), redact.text(p)) for i, p in running]
            self.detail.show(job, self.clock(), samples, self.palette, failed, running)
        # The facts first: they set the log's height, and the log then scrolls to its end.
        log = self.log_tail
        path = self.state.log_path(job.id)
        if log.path != path:
            await log.follow(path)
        else:
            await log.poll()
        live = None
        if job.status is JobStatus.RUNNING and self.show_log:
            live = await asyncio.to_thread(read_live, self.state.live_path(job.id))
        self.detail.show_live(live)

    async def _refresh_remote_detail(self, job: Job) -> None:
        """A remote job's facts as streamed, and its log fetched through ssh every few seconds."""
        key = (job, round(self.clock()))
        if key != self._detail_shown:
            self._detail_shown = key
            self.detail.show(job, self.clock(), [], self.palette)
        shown, fetched = self._remote_log
        if not self.show_log or (shown == job.id and time.monotonic() - fetched < LOG_EVERY_S):
            return
        self._remote_log = (job.id, time.monotonic())
        text = await asyncio.to_thread(self.hosts.read_log, job.id)
        if self.selected_id == job.id and self.is_running:
            log = self.log_tail
            log.path = None  # a local job selected next is followed afresh
            log.clear()
            log.write(text)

    # -- keys -----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Job keys are enabled only for jobs they apply to (shown greyed out otherwise)."""
        if action in JOB_ACTIONS:
            return True if JOB_ACTIONS[action].applies(self.selected_job) else None
        if action == "edit":
            job = self.selected_job
            local = job is not None and split_id(job.id)[0] is None
            return True if local and job.status in EDITABLE else None
        if action == "clean":
            return True if any(self.snapshot.counts.get(s) for s in FINAL_STATUSES) else None
        if action == "back":
            return self.detail_open or self.filter_input.display
        return True

    def _job_action(self, name: str) -> None:
        action = JOB_ACTIONS[name]
        job = self.selected_job
        if job is None or not action.applies(job):
            self.bell()
            return
        if action.confirm is None:
            self._run_action(action, job.id)
            return
        question = action.confirm.format(id=job.id, label=job.label)

        def answered(yes: bool | None) -> None:
            if yes:
                self._run_action(action, job.id)

        self.push_screen(ConfirmDialog(question, yes_label=action.title), answered)

    @work(thread=True, group="actions", exit_on_error=False)
    def _run_action(self, action: JobAction, job_id: str) -> None:
        """The jobcore call, in a thread; failures become notifications."""
        title = f"{action.name} failed"
        host = split_id(job_id)[0]
        if host is not None:  # another machine's job: `ssh HOST jobcore ACTION ID`
            severity, message = self.hosts.act(action.name, job_id)
            self._from_thread(self.notify, message, title=action.name, severity=severity)
            if severity == "warning":
                self._from_thread(self.hosts.reconnect, host)
            return
        try:
            with self._store_lock:
                assert self._store is not None
                job = action.run(self.state, self._store, job_id)
        except JobcoreError as exc:
            self._from_thread(self.notify, str(exc), title=title, severity="error")
        except Exception as exc:  # a failed action must never take the dashboard down
            message = f"{type(exc).__name__}: {exc}"
            self._from_thread(self.notify, message, title=title, severity="error")
        else:
            report = action.report.format(id=job.id, status=job.status.value, was=job_id)
            self._from_thread(self.notify, report, title=action.name)
        self._from_thread(self.request_refresh)

    def action_stop(self) -> None:
        self._job_action("stop")

    def action_resume(self) -> None:
        self._job_action("resume")

    def action_retry(self) -> None:
        self._job_action("retry")

    def action_kill(self) -> None:
        self._job_action("kill")

    def action_restart(self) -> None:
        self._job_action("restart")

    def action_rm(self) -> None:
        self._job_action("rm")

    def action_edit(self) -> None:
        """``jobcore edit``'s form in ``$VISUAL``/``$EDITOR``, the dashboard suspended meanwhile."""
        job = self.selected_job
        if job is None or job.status not in EDITABLE:
            self.bell()
            return
        editor = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
        try:
            with self.suspend(), self._store_lock:
                assert self._store is not None
                edited = edit_in_editor(self.state, self._store, job, editor)
        except SuspendNotSupported:
            self.notify(f"no terminal to edit in; use jobcore edit {job.id}", severity="error")
        except (JobcoreError, OSError) as exc:
            self.notify(str(exc), title="edit failed", severity="error")
        else:
            outcome = "unchanged (the form was emptied)" if edited is None else "edited"
            self.notify(f"job {job.id} {outcome}", title="edit")
        self.request_refresh(force=True)

    def action_clean(self) -> None:
        finished = sum(self.snapshot.counts.get(s, 0) for s in FINAL_STATUSES)
        if not finished:
            self.bell()
            return
        question = (
            f"Remove {finished:,} finished jobs (completed, failed and cancelled) and their logs?"
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._clean()

        self.push_screen(ConfirmDialog(question, yes_label="Clean"), answered)

    @work(thread=True, group="actions", exit_on_error=False)
    def _clean(self) -> None:
        """``jobcore.ops.housekeeping.clean`` with its defaults, as ``jobcore clean`` runs it."""
        try:
            with self._store_lock:
                assert self._store is not None
                removed = clean(self.state, self._store)
        except JobcoreError as exc:
            self._from_thread(self.notify, str(exc), title="clean failed", severity="error")
        else:
            self._from_thread(self.notify, f"removed {len(removed):,} finished jobs", title="clean")
        self._from_thread(self.request_refresh)

    def action_toggle_log(self) -> None:
        if not self.detail_open:
            self.detail_open = True
            self.show_log = True
        else:
            self.show_log = not self.show_log

    def action_filter(self) -> None:
        field = self.filter_input
        field.display = True
        field.focus()
        self.refresh_bindings()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()

    def watch_filter_text(self) -> None:
        self.request_refresh(force=True)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        field = self.filter_input
        field.display = bool(field.value)
        self._focus_panels()

    def _focus_panels(self) -> None:
        holder = self.tables.values()
        target = next((t for t in holder if self.selected_id in t.jobs), None)
        target = target or next((t for t in holder if t.display and t.row_count), None)
        if target is not None:
            target.focus()
        else:
            self.set_focus(None)

    async def action_cycle_group(self) -> None:
        """Show every group in turn, then all of them again."""
        groups = {*await self.reader.groups(), *self.hosts.groups()}
        choices: list[str | None] = [None, *sorted(groups)]
        index = choices.index(self.group) if self.group in choices else 0
        self.group = choices[(index + 1) % len(choices)]
        shown = "all groups" if self.group is None else f"group {self.group}"
        self.notify(f"showing {shown}", title="group")

    def watch_group(self) -> None:
        self._show_mode()
        self.request_refresh(force=True)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_back(self) -> None:
        field = self.filter_input
        if field.display and (self.focused is field or not self.detail_open):
            field.value = ""
            field.display = False
            self._focus_panels()
        elif self.detail_open:
            self.detail_open = False
        self.refresh_bindings()


def run(home: Path | None = None, hosts: Sequence[str] = ()) -> None:
    """Open the dashboard on ``home`` (or the default state folder) and ``hosts``."""
    from jobcore.state.config import load
    from jobcore.state.paths import resolve_home
    from jobtui.hosts import host_names

    state = resolve_home(home, create=False)
    names = host_names(hosts, load(state)["hosts"])
    if not sys.stdout.isatty():  # full-screen into a file or pipe would never end
        raise JobcoreError("stdout is not a terminal; `jobcore ls` lists the jobs as text")
    JobApp(state, hosts=names).run()
