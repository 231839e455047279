"""The full-screen log (``L``): a ``LogLines`` with its title, search field and keys.

A batch's log can show one item at a time: ``i`` goes through its running then its failed
items (asked for afresh at each press, as items start and end) and back to every line.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from jobtui.widgets.log_view import FOLLOW_S, LogLines

KEYS = "esc back  / search  n N next/prev  f follow  g G top/bottom  w wrap  i item"
"""The keys, as one line of text: a Footer's widgets cost more to lay out than the log's
first screen does to read (opening must stay quick)."""

ItemFilters = Callable[[], Awaitable[list[tuple[str, tuple[bytes, ...]]]]]
"""A batch's items to show one at a time: each as shown to people, with the prefixes of its
lines in the log (``jobcore.state.logs.item_prefix``: an item listed twice has two)."""


class LogScreen(Screen[None]):
    """One job's log, full screen: follow, search, top and bottom, wrap, one item's lines."""

    BINDINGS = [  # noqa: RUF012 - Textual merges class-level BINDINGS
        Binding("escape,q", "close", "Back", id="log-close", tooltip="Back to the dashboard"),
        Binding("slash", "search", "Search", id="log-search", tooltip="Search the log"),
        Binding("n", "next(True)", "Next", id="log-next", tooltip="Next match"),
        Binding("N", "next(False)", "Prev", id="log-prev", tooltip="Previous match"),
        Binding("f,end", "follow", "Follow", id="log-follow", tooltip="Follow new output"),
        Binding("G", "follow", "Bottom", show=False),
        Binding("g,home", "top", "Top", id="log-top", show=False, tooltip="First line"),
        Binding("w", "wrap", "Wrap", id="log-wrap", tooltip="Wrap long lines, or cut them"),
        Binding("i", "item", "Item", id="log-item", tooltip="One batch item's lines, the next"),
    ]

    def __init__(self, path: Path, title: str, items: ItemFilters | None = None) -> None:
        super().__init__()
        self.path = path
        """The log shown."""
        self.title_text = title
        """Whose log it is (the job's id and name)."""
        self.items = items
        """A batch's items to filter by; None for a job of one command."""
        self.item: str | None = None
        """The item whose lines alone are shown."""

    def compose(self) -> ComposeResult:
        yield Static(id="log-title")
        yield LogLines(self.path, id="log-lines")
        yield Input(placeholder="search (enter: find, n/N: next/previous)", id="log-find")
        yield Static(KEYS, id="log-keys")

    @property
    def lines(self) -> LogLines:
        return self.query_one(LogLines)

    async def on_mount(self) -> None:
        self.query_one("#log-find", Input).display = False
        lines = self.lines
        lines.focus()
        await lines.load()
        self._show_title()
        self.set_interval(FOLLOW_S, self._poll)
        self.watch(lines, "follow", self._show_title, init=False)

    async def _poll(self) -> None:
        await self.lines.poll()
        self._show_title()

    def _show_title(self, *_: object) -> None:
        lines = self.lines
        log = lines.log_file
        parts = [self.title_text]
        if self.item is not None:
            parts.append(f"item {self.item}")
        if lines.error is None:
            count = len(log)
            shown = f"{count:,} line{'' if count == 1 else 's'}"
            shown += "" if log.complete else "+ (reading back)"
            parts += [shown, "following" if lines.follow else "f: follow"]
        if lines.wrap:
            parts.append("wrapped")
        if lines.needle:
            parts.append(f"/{lines.needle}")
        self.query_one("#log-title", Static).update(Text(" · ".join(parts), no_wrap=True))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "item":
            return True if self.items is not None else None
        return True

    def action_close(self) -> None:
        find = self.query_one("#log-find", Input)
        if find.has_focus:
            find.display = False
            self.lines.focus()
            return
        self.dismiss()

    def action_search(self) -> None:
        find = self.query_one("#log-find", Input)
        find.display = True
        find.focus()

    @on(Input.Submitted, "#log-find")
    async def _search(self, event: Input.Submitted) -> None:
        find = self.query_one("#log-find", Input)
        find.display = False
        self.lines.focus()
        self.lines.current = None
        if not await self.lines.find(event.value, forward=False):
            self.notify(f"not found: {event.value}", timeout=2)
        self._show_title()

    async def action_next(self, forward: bool) -> None:
        lines = self.lines
        if not lines.needle:
            self.action_search()
            return
        if not await lines.find(lines.needle, forward):
            self.notify(f"no {'later' if forward else 'earlier'} match", timeout=2)
        self._show_title()

    def action_follow(self) -> None:
        self.lines.follow = True
        self._show_title()

    async def action_top(self) -> None:
        """The first line: the whole file is indexed on the way (what the user asked for)."""
        lines = self.lines
        lines.follow = False
        await lines.extend_back(0, 0)
        lines.scroll_home(animate=False, immediate=True)
        self._show_title()

    def action_wrap(self) -> None:
        self.lines.wrap = not self.lines.wrap
        self._show_title()

    async def action_item(self) -> None:
        """The next running or failed item's lines alone, then every line again."""
        if self.items is None:
            self.app.bell()
            return
        choices = await self.items()
        names = [name for name, _ in choices]
        if self.item is None and not choices:
            self.notify("no item is running or has failed", title="item", timeout=2)
            return
        at = (
            0
            if self.item is None
            else (names.index(self.item) + 1 if self.item in names else len(names))
        )
        self.item, only = choices[at] if at < len(choices) else (None, ())
        await self.lines.load(only)
        self._show_title()
