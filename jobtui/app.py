"""The dashboard app: the data loops, the model, and the jobcore calls the keys make.

Data flows one way. A background watcher turns file events into refresh requests; one
refresh loop re-reads the database only when ``PRAGMA data_version`` moved (through one
long-lived aiosqlite connection, off the UI thread), hands the snapshot to the model
(``jobtui.model``) and asks the dashboard screen (``jobtui.dashboard``) to redraw what
changed. A slow poll is the safety net: it re-checks the version, measures CPU and memory,
and runs ``jobcore.liveness.reconcile`` in a thread, so a dead worker turns failed with no
key pressed. Actions go the other way, through the same ``jobcore`` calls the CLI makes, in
thread workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from textual import on, work
from textual.app import App, SuspendNotSupported
from textual.binding import Binding
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from jobcore import dispatch
from jobcore.dispatch import ensure
from jobcore.edit import edit_in_editor
from jobcore.errors import JobcoreError
from jobcore.housekeeping import clean
from jobcore.liveness import reconcile
from jobcore.models import Job, JobStatus
from jobcore.paths import StateDir
from jobcore.queue import pause_group
from jobcore.store import Store
from jobtui.actions import EDITABLE, JOB_ACTIONS, JobAction
from jobtui.backoff import Backoff
from jobtui.columns import one_line
from jobtui.commands import JobCommands
from jobtui.dashboard import DashboardScreen
from jobtui.data import FINAL_STATUSES, PAGE_SIZE, JobReader, Snapshot
from jobtui.messages import UsageMeasured, WatchUnavailable
from jobtui.model import DashboardModel
from jobtui.usage import TreeUsage, Usage
from jobtui.watcher import ChangeSource, StateWatcher
from jobtui.widgets.confirm import ConfirmDialog
from jobtui.widgets.help_screen import HelpScreen
from jobtui.widgets.palette import Palette

POLL_S = 2.0
"""Liveness, CPU/memory and elapsed times of running jobs, and the safety-net look at
``data_version`` (file events are hints and may be missed)."""
VERSION_POLL_S = 0.5
"""A look at ``data_version`` this often whatever the watcher says: file events can be lost
(a full inotify queue, NFS), and the look costs one PRAGMA when nothing changed."""
REFRESH_RETRY_S = (0.5, 8.0)
"""First and longest wait before the refresh loop reads again after a failed read."""
POLL_RETRY_S = (POLL_S, 30.0)
"""First and longest wait before the poll runs again after it failed."""
MIN_REFRESH_S = 0.05
"""Bursts of commits are re-read at most this often (a lone commit is read at once)."""
MAX_REFRESH_S = 1.0
"""However busy the jobs are, the screen is at most this far behind."""
CPU_BUDGET = 0.025
"""Share of a core refreshing may use on average. A refresh's cost is the UI thread's time
applying it and drawing the panels it changed: a cheap one (a row or two) comes almost at
once, an expensive one (many rows changing) waits so the app stays calm. What every commit
costs anyway (file events, the event loop) is not counted: holding back the next refresh
would not save it."""

TOASTS_AT_ONCE = 3
"""More jobs ending together than this get one toast between them, not one each."""
ENDINGS_GATHER_S = 0.5
"""Endings are gathered this long before they are toasted, so a burst is seen as one."""


class JobApp(App[None]):
    """``jobtui``: the live dashboard of one state folder."""

    CSS_PATH = Path(__file__).with_name("jobtui.tcss")
    """Absolute, so subclasses in other folders (benchmarks, tests) find it too."""
    TITLE = "jobtui"
    COMMANDS = App.COMMANDS | {JobCommands}
    """The palette (ctrl+p) lists the selected job's actions before Textual's own."""
    BINDINGS = [  # noqa: RUF012 - Textual merges class-level BINDINGS
        Binding("question_mark", "help", "Help", id="help", tooltip="All keys"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit; jobs keep running"),
    ]

    def __init__(
        self,
        state: StateDir,
        *,
        clock: Callable[[], float] = time.time,
        watcher: ChangeSource | None = None,
        live: bool = True,
        page_size: int = PAGE_SIZE,
        blink: bool = True,
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
        self.model = DashboardModel()
        """Rows, selection, marks, sort and filter: everything shown, apart from widgets."""
        self.palette = Palette.plain()
        """Cell colours from the current theme."""
        self.reader = JobReader(state.db_path, page_size)
        self.reads = 0
        """Snapshots read so far (tests and the benchmark count re-reads)."""
        self.data_version: int | None = None
        """``PRAGMA data_version`` at the last read."""
        self.dashboard = DashboardScreen()
        """The main screen."""
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

    # -- what tests and the palette read ----------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot:
        return self.model.snapshot

    @property
    def selected_id(self) -> str | None:
        return self.model.selected_id

    @property
    def selected_job(self) -> Job | None:
        """The job the keys act on, as last read."""
        return self.model.selected

    @property
    def usage(self) -> Mapping[str, Usage]:
        return self.model.usage

    # -- start and stop ---------------------------------------------------------------------------

    def get_default_screen(self) -> DashboardScreen:
        return self.dashboard

    async def on_mount(self) -> None:
        self._apply_theme()
        self.watch(self, "theme", self._apply_theme, init=False)
        # Every Store is opened before the reader: Store() opens and closes a raw descriptor of
        # the database, and closing any descriptor drops all of this process's SQLite locks on
        # the file, so another process may then delete the WAL under the reader's feet.
        self._store = await asyncio.to_thread(Store, self.state)
        await self.reader.open()
        self._refresher = self._refresh_loop()
        if self.live:
            self.watching = True
            self._watch()
            self.set_timer(POLL_S, self._first_poll)  # if the first read takes that long
            self.set_interval(VERSION_POLL_S, self.request_refresh)
        self.show_mode()
        self.request_refresh()

    async def on_unmount(self) -> None:
        self.watcher.stop()
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
        if self.dashboard.is_mounted:
            self.dashboard.show_model()

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

    # -- live data --------------------------------------------------------------------------------

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
        if self._force_read or version != self.data_version:
            snapshot = await self.reader.read(self.model.filter_text, self.model.group)
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
        counts = snapshot.counts
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

    @work(exclusive=True, group="watch", exit_on_error=False)
    async def _watch(self) -> None:
        try:
            async for _ in self.watcher.changes():
                # Called directly (this worker runs on the UI's event loop): a message per
                # burst of commits cost more than the refresh it asked for, at 40 commits/s.
                self.request_refresh()
                # Then wait for the refresh loop to take the request: meanwhile watchfiles
                # gathers further changes into one batch, instead of waking us per commit
                # while a paced refresh is pending anyway.
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
        usage = self._meter.measure(self.model.snapshot.jobs.get(JobStatus.RUNNING, []))
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

    # -- actions ----------------------------------------------------------------------------------

    def job_action(self, name: str) -> None:
        """An action on the marked jobs it applies to, else on the selected job; one question."""
        action = JOB_ACTIONS[name]
        jobs = self.model.targets(action.applies)
        if not jobs:
            self.bell()
            return
        ids = [job.id for job in jobs]
        if action.confirm is None:
            self._run_action(action, ids)
            return
        if len(jobs) == 1:
            question = action.confirm.format(id=jobs[0].id, label=one_line(jobs[0].label))
        else:
            shown = ", ".join(ids[:8]) + (f" and {len(ids) - 8:,} more" if len(ids) > 8 else "")
            question = f"{action.title} {len(jobs):,} marked jobs ({shown})?"
        title = action.title if len(jobs) == 1 else f"{action.title} {len(jobs):,}"

        def answered(yes: bool | None) -> None:
            if yes:
                self._run_action(action, ids)

        self.push_screen(ConfirmDialog(question, yes_label=title), answered)

    @work(thread=True, group="actions", exit_on_error=False)
    def _run_action(self, action: JobAction, job_ids: list[str] | str) -> None:
        """The jobcore call per job, in a thread; failures become notifications."""
        ids = [job_ids] if isinstance(job_ids, str) else job_ids
        title = f"{action.name} failed"
        reports = []
        for job_id in ids:
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
                reports.append(action.report.format(id=job.id, status=job.status.value, was=job_id))
        if len(reports) > TOASTS_AT_ONCE:
            self._from_thread(self.notify, f"{len(reports):,} jobs done", title=action.name)
        for report in reports if len(reports) <= TOASTS_AT_ONCE else []:
            self._from_thread(self.notify, report, title=action.name)
        if len(ids) > 1:
            self._from_thread(self._unmark, ids)
        self._from_thread(self.request_refresh)

    def _unmark(self, ids: list[str]) -> None:
        self.model.marks.difference_update(ids)
        self.dashboard.show_model()

    def edit_selected(self) -> None:
        """``jobcore edit``'s form in ``$VISUAL``/``$EDITOR``, the dashboard suspended meanwhile."""
        job = self.model.selected
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

    def clean_finished(self) -> None:
        finished = sum(self.model.snapshot.counts.get(s, 0) for s in FINAL_STATUSES)
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
        """``jobcore.housekeeping.clean`` with its defaults, as ``jobcore clean`` runs it."""
        try:
            with self._store_lock:
                assert self._store is not None
                removed = clean(self.state, self._store)
        except JobcoreError as exc:
            self._from_thread(self.notify, str(exc), title="clean failed", severity="error")
        else:
            self._from_thread(self.notify, f"removed {len(removed):,} finished jobs", title="clean")
        self._from_thread(self.request_refresh)

    @work(thread=True, group="actions", exit_on_error=False)
    def pause_group(self, group: str, paused: bool) -> None:
        """``jobcore group pause``/``resume``: nothing new of the group starts, or it may again."""
        verb = "paused" if paused else "resumed"
        try:
            with self._store_lock:
                assert self._store is not None
                pause_group(self._store, group, paused)
                # As `jobcore group pause/resume`: resumed jobs start now, paused ones say so.
                dispatch.start_waiting(self.state, self._store)
                dispatch.wake(self.state, self._store)
        except JobcoreError as exc:
            self._from_thread(self.notify, str(exc), title="group", severity="error")
        else:
            self._from_thread(self.notify, f"group {group} {verb}", title="group")
        self._from_thread(self.request_refresh, True)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())


def run(home: Path | None = None) -> None:
    """Open the dashboard on ``home`` (or the default state folder)."""
    from jobcore.paths import resolve_home

    state = resolve_home(home, create=False)
    if not sys.stdout.isatty():  # full-screen into a file or pipe would never end
        raise JobcoreError("stdout is not a terminal; `jobcore ls` lists the jobs as text")
    JobApp(state).run()
