"""The dashboard app: its screen, theme and keys of its own, and ``run``.

What it shows is read by the data loops (``jobtui.app_live``), kept in a plain model
(``jobtui.model``) and drawn by the dashboard screen (``jobtui.dashboard``); what the keys do
to jobs is in ``jobtui.app_actions``, through the same ``jobcore`` calls as the CLI.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from textual.app import App
from textual.binding import Binding

from jobcore.base.errors import JobcoreError
from jobcore.state.models import Job
from jobcore.state.paths import StateDir
from jobtui.app_actions import ActionsApp
from jobtui.commands import JobCommands
from jobtui.dashboard import DashboardScreen
from jobtui.data import PAGE_SIZE, Snapshot
from jobtui.usage import Usage
from jobtui.watcher import ChangeSource
from jobtui.widgets.help_screen import HelpScreen
from jobtui.widgets.palette import Palette


class JobApp(ActionsApp):
    """``jobtui``: the live dashboard of one state folder, and of other hosts through ssh."""

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
        hosts: Sequence[str] = (),
    ) -> None:
        super().__init__(
            state, clock=clock, watcher=watcher, live=live, page_size=page_size, hosts=hosts
        )
        self.blink = blink
        """Blink the filter's cursor (off for reproducible screenshots)."""
        self.palette = Palette.plain()
        """Cell colours from the current theme."""

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
        await self.start_loops()

    async def on_unmount(self) -> None:
        await self.stop_loops()

    def _apply_theme(self) -> None:
        self.palette = Palette.from_app(self)
        if self.dashboard.is_mounted:
            self.dashboard.show_model()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())


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
