"""The ``?`` screen: every key, what it does, and how the panels work."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓  j k", "move between jobs (and on into the next panel)"),
    ("enter", "open the selected job's detail: command, times, rate, live log"),
    ("L", "the whole log, full screen: / search, n N, f follow, g top, w wrap, i one item"),
    ("space", "mark or unmark a job; s, K, r, R, t, x, h, H and S act on every marked job"),
    ("a", "sort by name, start, progress or rate, then newest first again"),
    ("y", "copy the job's id (the marked ids) to the clipboard, over SSH and tmux too"),
    ("escape", "close the detail, or the filter; clear the marks"),
    ("s", "stop a running or queued job; it becomes paused"),
    ("r", "resume a paused job"),
    ("R", "retry a failed job (a batch: its failed items)"),
    ("K", "kill a job's whole process tree now; it fails (asks first)"),
    ("t", "restart a finished job: a new job with the same command"),
    ("x", "remove a finished or paused job with its folder and log (asks first)"),
    ("h", "hold a queued job: it keeps its place but does not start"),
    ("H", "release a held job: it waits for its turn again"),
    ("S", "start a queued or held job now, first in its group's line"),
    ("e", "edit a queued or paused job's command, name, env… in $VISUAL or $EDITOR"),
    ("c", "clean: remove completed, failed and cancelled jobs and their logs (asks first)"),
    ("l", "show or hide the log in the detail"),
    ("/", "filter jobs by id, name, command or current item"),
    ("g", "cycle the group filter"),
    ("ctrl+p", "the command palette: the selected or marked jobs' actions, their group's"),
    ("?", "this help"),
    ("q", "quit (jobs keep running)"),
)

ABOUT = (
    "Panels list running, queued, paused, failed, cancelled and completed jobs; empty ones are "
    "hidden and finished ones show their newest jobs, with the full count in the title. Every "
    "panel has the same columns; where a running job shows its rate, ETA and resources, the "
    "others say what they wait for or why they stopped. The screen follows the state folder "
    "live; keys that do not apply to the selected job are greyed out in the footer."
)


class HelpScreen(ModalScreen[None]):
    """Keys and a short explanation; any of escape, ? or q closes it."""

    BINDINGS = [  # noqa: RUF012 - Textual merges class-level BINDINGS
        Binding("escape,question_mark,q", "dismiss", "Close", id="help-close"),
    ]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, what in KEYS:
            table.add_row(key, what)
        with VerticalScroll(id="help-box"):
            yield Static(table, id="help-keys")
            yield Static(Text(ABOUT), id="help-about")

    def on_mount(self) -> None:
        self.query_one("#help-box").border_title = "jobtui keys"
