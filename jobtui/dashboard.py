"""The dashboard screen: the status panels, the summary line, the detail pane and the keys.

The screen owns the widgets, their layout and the keys; what it shows comes from the app's
``DashboardModel`` (rows, selection, marks, sort), and what the keys do goes back to the app,
which runs the same ``jobcore`` calls as the CLI in threads. The selection has one source of
truth: the focused list's cursor (``_take_cursor`` copies it into the model).
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.events import DescendantFocus
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Header, Input, Static

from jobcore.state.launch_env import redactor_for
from jobcore.state.logs import item_prefix
from jobcore.state.models import Job, JobStatus
from jobtui.actions import JOB_ACTIONS, editable
from jobtui.columns import CellContext, Layout, plan
from jobtui.data import FINAL_STATUSES
from jobtui.detail_feed import DetailFeed
from jobtui.hosts import split_id
from jobtui.model import PANEL_ORDER
from jobtui.widgets.detail import DetailPane
from jobtui.widgets.footer import JobFooter
from jobtui.widgets.job_list import JobList
from jobtui.widgets.log_screen import LogScreen
from jobtui.widgets.log_tail import LogTail

if TYPE_CHECKING:
    from jobtui.app import JobApp

EMPTY_HINT = (
    "No jobs yet. Start one with [b]jobcore run -- COMMAND[/b] or try [b]python -m jobtui.demo[/b]."
)
SCROLLBAR = 1
"""Cells the panels' scrollbar takes from the rows."""


class DashboardScreen(Screen[None]):
    """The main screen of ``jobtui``."""

    AUTO_FOCUS = ""
    """The first panel with jobs takes focus once data arrives, not the hidden filter."""
    BINDINGS = [  # noqa: RUF012 - Textual merges class-level BINDINGS
        Binding("s", "act('stop')", "Stop", id="stop", tooltip="Stop the job; it becomes paused"),
        Binding("r", "act('resume')", "Resume", id="resume", tooltip="Start a paused job again"),
        Binding("R", "act('retry')", "Retry", id="retry", tooltip="Run a failed job again"),
        Binding("K", "act('kill')", "Kill", id="kill", tooltip="Kill the job's process tree now"),
        Binding("t", "act('restart')", "Restart", id="restart", tooltip="Run a finished job again"),
        Binding("x", "act('rm')", "Remove", id="rm", tooltip="Remove a finished job and its log"),
        Binding("h", "act('hold')", "Hold", id="hold", show=False, tooltip="Keep it from starting"),
        Binding("H", "act('release')", "Release", id="release", show=False, tooltip="Unhold it"),
        Binding("S", "act('start')", "Start", id="start", show=False, tooltip="Start it now"),
        Binding("e", "edit", "Edit", id="edit", tooltip="Edit a queued or paused job in $EDITOR"),
        Binding("c", "clean", "Clean", id="clean", show=False, tooltip="Remove finished jobs"),
        Binding("space", "mark", "Mark", id="mark", show=False, tooltip="Mark for a bulk action"),
        Binding("l", "toggle_log", "Log", id="toggle-log", tooltip="Show or hide the log"),
        Binding("L", "open_log", "Full log", id="open-log", show=False, tooltip="The whole log"),
        Binding("slash", "filter", "Filter", id="filter", tooltip="Filter jobs by text"),
        Binding("a", "sort", "Sort", id="sort", show=False, tooltip="Next sort order"),
        Binding("y", "copy_id", "Copy id", id="copy-id", show=False, tooltip="Copy the job's id"),
        Binding("g", "cycle_group", "Group", id="group", show=False, tooltip="Next group"),
        Binding("escape", "back", "Back", id="back", tooltip="Close the detail or filter"),
    ]

    detail_open: reactive[bool] = reactive(False, init=False)
    """The detail pane of the selected job is shown."""
    show_log: reactive[bool] = reactive(True, init=False)
    """The detail pane includes the live log tail."""

    def __init__(self) -> None:
        super().__init__(id="dashboard")
        self.lists: dict[JobStatus, JobList] = {}
        """The status panels, by status."""
        self.layout_: Layout | None = None
        """The columns every panel shares, for the current width and rows."""
        self._keys_state: tuple[object, ...] = ()

    @property
    def jobapp(self) -> JobApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header(icon="▶")
        yield Static("loading…", id="summary")
        yield Input(placeholder="filter: id, name, command or item (escape clears)", id="filter")
        with VerticalScroll(id="panels"):
            yield Static("Loading jobs…", id="empty")
            for status in PANEL_ORDER:
                yield JobList(status, id=f"panel-{status.value}")
        yield DetailPane(id="detail")
        yield JobFooter()

    def on_mount(self) -> None:
        self.lists = {panel.status: panel for panel in self.query(JobList)}
        self.filter_input = self.query_one("#filter", Input)
        self.detail = self.query_one("#detail", DetailPane)
        self.log_tail = self.query_one("#detail-log", LogTail)
        self.empty_hint = self.query_one("#empty", Static)
        self.summary = self.query_one("#summary", Static)
        self.feed = DetailFeed(self.jobapp, self.detail, self.log_tail)
        """What the detail pane shows, and when it looks again."""
        self.filter_input.cursor_blink = self.jobapp.blink
        for panel in self.lists.values():
            panel.display = False

    def on_resize(self) -> None:
        self.show_model()

    # -- drawing the model ----------------------------------------------------------------------

    def show_model(self, loaded: bool = False) -> None:
        """Put the model on screen, rewriting only rows that changed."""
        app = self.jobapp
        model = app.model
        width = self.size.width - SCROLLBAR
        if width <= 0:
            return
        layout = plan(width, model.needs())
        self.layout_ = layout
        ctx = CellContext(app.clock(), app.palette, layout.bar, layout.counts)
        for status, panel in self.lists.items():
            rows = model.rows(status)
            panel.sync(rows, layout, ctx, model.sort_column)
            if panel.display != bool(rows):
                panel.display = bool(rows)
            count = model.snapshot.counts.get(status, 0)
            title = f"{status.value.title()} ({count:,})"
            if count > len(rows):
                title = f"{status.value.title()} ({count:,}, newest {len(rows):,} shown)"
            if panel.border_title != title:
                panel.border_title = title
        summary = model.summary()
        if str(self.summary.content) != summary:
            self.summary.update(Text(summary, no_wrap=True, overflow="ellipsis"), layout=False)
        empty = model.loaded and not any(model.snapshot.jobs.values())
        if model.loaded and str(self.empty_hint.content) != EMPTY_HINT:
            self.empty_hint.update(EMPTY_HINT)
        if self.empty_hint.display != (empty or not model.loaded):
            self.empty_hint.display = empty or not model.loaded
        if loaded:
            self._follow_selection()
        self.refresh_keys()

    def take_render_time(self) -> float:
        return sum(panel.take_render_time() for panel in self.lists.values())

    def refresh_keys(self) -> None:
        """Re-check which keys apply, when the selected job or its status changed."""
        model = self.jobapp.model
        job = model.selected
        state = (
            model.selected_id,
            job.status if job else None,
            self.detail_open,
            frozenset(model.marks),
        )
        if state != self._keys_state:
            self._keys_state = state
            self.refresh_bindings()

    # -- selection --------------------------------------------------------------------------------

    def _take_cursor(self) -> None:
        """The job under the focused panel's cursor is the selection, read before rows move.

        A cursor move reaches the model by an event, and a move to the next panel also waits
        for its focus: a refresh landing in between would put the cursor back on the job the
        user had just left (j at a panel's edge "did nothing" while jobs reported).
        """
        focused = self.focused
        if isinstance(focused, JobList) and focused.cursor_job_id is not None:
            self.jobapp.model.selected_id = focused.cursor_job_id

    def _follow_selection(self) -> None:
        """Keep the cursor on the selected job when it moves panel (running → paused)."""
        model = self.jobapp.model
        panels = self.lists.values()
        holder = next((p for p in panels if model.selected_id in p.jobs), None)
        if holder is None:
            focused = self.focused if isinstance(self.focused, JobList) else None
            if focused is not None and focused.display and focused.row_count:
                model.selected_id = focused.cursor_job_id
                return
            holder = next((p for p in panels if p.display and p.row_count), None)
            if holder is None:
                model.selected_id = None
                return
            model.selected_id = holder.cursor_job_id
        if isinstance(self.focused, Input) or self.app.screen is not self:
            return
        if self.focused is not holder:
            holder.focus()
        assert model.selected_id is not None
        row = holder.get_row_index(model.selected_id)
        if holder.cursor_row != row:
            holder.move_cursor(row=row, scroll=True)

    @on(JobList.Highlighted)
    def _highlighted(self, event: JobList.Highlighted) -> None:
        model = self.jobapp.model
        if event.job_list is self.focused and event.job_id != model.selected_id:
            model.selected_id = event.job_id
            self.refresh_keys()
            self.jobapp.request_refresh()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        if isinstance(event.widget, JobList) and event.widget.cursor_job_id:
            self.jobapp.model.selected_id = event.widget.cursor_job_id
            self.refresh_keys()
            self.jobapp.request_refresh()

    @on(JobList.Chosen)
    def _chosen(self, event: JobList.Chosen) -> None:
        self.jobapp.model.selected_id = event.job_id
        self.detail_open = True

    def focus_panels(self) -> None:
        model = self.jobapp.model
        panels = self.lists.values()
        target = next((p for p in panels if model.selected_id in p.jobs), None)
        target = target or next((p for p in panels if p.display and p.row_count), None)
        if target is not None:
            target.focus()
        else:
            self.set_focus(None)

    # -- detail -----------------------------------------------------------------------------------

    def watch_detail_open(self, open_: bool) -> None:
        self.detail.display = open_
        self.feed.shown = None
        self.refresh_keys()
        self.jobapp.request_refresh()

    def watch_show_log(self, show: bool) -> None:
        self.log_tail.display = show
        self.detail.set_class(not show, "-no-log")
        self.detail.show_live(None)
        self.jobapp.request_refresh()  # the live line comes back with the next look at the job

    async def refresh_detail(self) -> None:
        """Keep the detail pane on the selected job: facts, rate sparkline and new log lines."""
        app = self.jobapp
        job = app.model.selected
        if self.detail_open and job is not None and app.is_running:
            await self.feed.refresh(job, self.show_log)

    # -- keys -------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Job keys are enabled only for jobs they apply to (shown greyed out otherwise)."""
        model = self.jobapp.model
        if action == "act":
            job_action = JOB_ACTIONS[str(parameters[0])]
            return True if model.targets(job_action.applies) else None
        if action == "edit":
            return True if editable(model.selected) else None
        if action == "clean":  # this machine's finished jobs: `jobcore clean` cleans those
            return True if any(self.jobapp.local.counts.get(s) for s in FINAL_STATUSES) else None
        if action in ("mark", "copy_id"):
            return True if model.selected is not None else None
        if action == "open_log":  # a file here (another host's job: its end in the detail)
            job = model.selected
            return True if job is not None and split_id(job.id)[0] is None else None
        if action == "back":
            return self.detail_open or self.filter_input.display or bool(model.marks)
        return True

    def action_act(self, name: str) -> None:
        self.jobapp.job_action(name)

    def action_edit(self) -> None:
        self.jobapp.edit_selected()

    def action_clean(self) -> None:
        self.jobapp.clean_finished()

    def action_mark(self) -> None:
        """Mark or unmark the selected job and move on, as k9s and mutt do."""
        model = self.jobapp.model
        job_id = model.selected_id
        if job_id is None:
            self.app.bell()
            return
        model.toggle_mark(job_id)
        self.show_model()
        focused = self.focused
        if isinstance(focused, JobList) and focused.cursor_row < focused.row_count - 1:
            focused.move_cursor(focused.cursor_row + 1)

    def action_sort(self) -> None:
        order = self.jobapp.model.cycle_sort()
        self.show_model()
        self.notify(f"sorted by {order}", title="sort", timeout=2)

    def action_copy_id(self) -> None:
        """The id to the clipboard, through the terminal (OSC 52: works over SSH and in tmux)."""
        model = self.jobapp.model
        ids = sorted(model.marks) or ([model.selected_id] if model.selected_id else [])
        if not ids:
            self.app.bell()
            return
        self.app.copy_to_clipboard(" ".join(ids))
        self.notify(f"copied {' '.join(ids)}", title="clipboard", timeout=2)

    def action_open_log(self) -> None:
        """The whole log, full screen (from the list or the detail); a batch's by item too."""
        job = self.jobapp.model.selected
        if job is None or split_id(job.id)[0] is not None:
            self.app.bell()
            return
        path = self.jobapp.state.log_path(job.id)
        items = partial(self._item_filters, job) if job.is_batch else None
        self.app.push_screen(LogScreen(path, f"{job.id} · {job.label}", items))

    async def _item_filters(self, job: Job) -> list[tuple[str, tuple[bytes, ...]]]:
        """The batch's running and failed items, with the prefixes of their lines in the log
        (the item as masked when written, as ``jobcore logs --item`` finds them)."""
        app = self.jobapp
        redact = await asyncio.to_thread(redactor_for, app.state, job)
        filters = []
        for item, places in await app.reader.log_items(job.id):
            shown = redact.text(item)
            prefixes = (item_prefix(item, i, shown) for i in places)
            filters.append((shown, tuple(p.encode("utf-8", "surrogateescape") for p in prefixes)))
        return filters

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
        model = self.jobapp.model
        text = event.value.strip()
        if text != model.filter_text:
            model.filter_text = text
            self.jobapp.request_refresh(force=True)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        field = self.filter_input
        field.display = bool(field.value)
        self.focus_panels()

    async def action_cycle_group(self) -> None:
        """Show every group in turn, then all of them again."""
        app = self.jobapp
        groups = {*await app.reader.groups(), *app.hosts.groups()}
        choices: list[str | None] = [None, *sorted(groups)]
        index = choices.index(app.model.group) if app.model.group in choices else 0
        app.model.group = choices[(index + 1) % len(choices)]
        shown = "all groups" if app.model.group is None else f"group {app.model.group}"
        self.notify(f"showing {shown}", title="group")
        app.show_mode()
        app.request_refresh(force=True)

    def action_back(self) -> None:
        field = self.filter_input
        model = self.jobapp.model
        if field.display and (self.focused is field or not self.detail_open):
            field.value = ""
            field.display = False
            self.focus_panels()
        elif self.detail_open:
            self.detail_open = False
        elif model.marks:
            model.marks.clear()
            self.show_model()
        self.refresh_bindings()
