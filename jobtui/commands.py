"""The command palette's job actions: what the keys do, named for the selected job.

"Stop render-frames", "Remove checksum-2"… only the actions that apply to the selection are
listed, and choosing one is pressing its key (the same confirmations, the same jobcore call).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Provider

from jobtui.actions import JOB_ACTIONS
from jobtui.widgets.job_table import one_line

if TYPE_CHECKING:
    from jobtui.app import JobApp


class JobCommands(Provider):
    """The selected job's actions, then the dashboard's own (clean, filter, help)."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app: JobApp = self.app  # type: ignore[assignment]
        tooltips = {b.action: b.tooltip for b in app.BINDINGS if isinstance(b, Binding)}
        commands: list[tuple[str, Callable[[], object], str]] = []
        job = app.selected_job
        if job is not None:
            label = f"{one_line(job.label)[:40]} ({job.id})"
            for name, action in JOB_ACTIONS.items():
                if action.applies(job):
                    run = getattr(app, f"action_{name}")
                    commands.append((f"{action.title} {label}", run, tooltips.get(name, "")))
            if app.check_action("edit", ()):
                commands.append((f"Edit {label}", app.action_edit, tooltips["edit"]))
        if app.check_action("clean", ()):
            commands.append(("Clean finished jobs", app.action_clean, tooltips["clean"]))
        return commands

    async def discover(self) -> AsyncIterator[DiscoveryHit]:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> AsyncIterator[Hit]:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
