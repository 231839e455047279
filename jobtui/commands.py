"""The command palette's actions: what the keys do, named for the selection.

"Stop render-frames", "Kill 3 marked", "Open log of checksum-2", "Pause group gpu"… only the
actions that apply are listed, and choosing one is pressing its key (the same confirmations,
the same jobcore call).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Provider

from jobtui.actions import JOB_ACTIONS
from jobtui.columns import one_line
from jobtui.dashboard import DashboardScreen
from jobtui.hosts import split_id

if TYPE_CHECKING:
    from jobtui.app import JobApp

Command = tuple[str, Callable[[], object], str]


class JobCommands(Provider):
    """The selected (or marked) jobs' actions, their group's, then the dashboard's own."""

    def _commands(self) -> list[Command]:
        app: JobApp = self.app  # type: ignore[assignment]
        screen = app.dashboard
        tooltips = {
            b.id: b.tooltip for b in DashboardScreen.BINDINGS if isinstance(b, Binding) and b.id
        }
        model = app.model
        commands: list[Command] = []
        job = model.selected
        for name, action in JOB_ACTIONS.items():
            jobs = model.targets(action.applies)
            if not jobs:
                continue
            if model.marks:
                what = f"{len(jobs):,} marked" if len(jobs) > 1 else jobs[0].id
            else:
                what = f"{one_line(jobs[0].label)[:40]} ({jobs[0].id})"
            run = partial(app.job_action, name)
            commands.append((f"{action.title} {what}", run, tooltips.get(name, "")))
        if job is not None:
            label = f"{one_line(job.label)[:40]} ({job.id})"
            if screen.check_action("edit", ()):
                commands.append((f"Edit {label}", app.edit_selected, tooltips["edit"]))
            if screen.check_action("open_log", ()):
                open_log = screen.action_open_log
                commands.append((f"Open log of {label}", open_log, tooltips["open-log"]))
            commands.append((f"Copy id {job.id}", screen.action_copy_id, tooltips["copy-id"]))
            if split_id(job.id)[0] is None:  # a group of this machine (pausing is local)
                group = job.queue.group
                paused = group in model.snapshot.paused_groups
                verb = "Resume" if paused else "Pause"
                what = "let its waiting jobs start" if paused else "nothing new of it starts"
                toggle = partial(app.pause_group, group, not paused)
                commands.append((f"{verb} group {group}", toggle, what))
        if screen.check_action("clean", ()):
            commands.append(("Clean finished jobs", app.clean_finished, tooltips["clean"]))
        commands.append((f"Sort (now: {model.sort})", screen.action_sort, tooltips["sort"]))
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
