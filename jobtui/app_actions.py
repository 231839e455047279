"""What the dashboard's keys do: the same ``jobcore`` calls the CLI makes, in thread workers.

A job of another host is acted on through ``ssh HOST jobcore ACTION ID`` (``jobtui.hosts``);
one cut off by a dropped connection has an unknown outcome, and the dashboard says so and
reads the host afresh rather than guessing. Editing needs this machine's ``$EDITOR`` on the
job's own files, so it is for local jobs only.
"""

from __future__ import annotations

import os
import shlex

from textual import work
from textual.app import SuspendNotSupported

from jobcore.base.errors import JobcoreError
from jobcore.ops import dispatch
from jobcore.ops.edit import edit_in_editor
from jobcore.ops.housekeeping import clean
from jobcore.state.queue import pause_group
from jobtui.actions import JOB_ACTIONS, JobAction, editable
from jobtui.app_live import TOASTS_AT_ONCE, LiveApp
from jobtui.columns import one_line
from jobtui.data import FINAL_STATUSES
from jobtui.hosts import split_id
from jobtui.widgets.confirm import ConfirmDialog


class ActionsApp(LiveApp):
    """The app's actions on jobs, groups and the state folder; ``JobApp`` builds on it."""

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
            host = split_id(job_id)[0]
            if host is not None:  # another machine's job: `ssh HOST jobcore ACTION ID`
                severity, message = self.hosts.act(action.name, job_id)
                if severity == "information":
                    reports.append(message)
                    continue
                self._from_thread(self.notify, message, title=title, severity=severity)
                if severity == "warning":
                    self._from_thread(self.hosts.reconnect, host)
                continue
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
        if job is None or not editable(job):
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
        finished = sum(self.local.counts.get(s, 0) for s in FINAL_STATUSES)
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
