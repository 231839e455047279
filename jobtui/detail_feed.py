"""What the detail pane shows of the selected job, and how often it is looked at again.

A local job's facts, rate samples and items come from the database, its log from its file
(followed from a byte offset), the line its command is rewriting from its live file, and a
cluster batch's workers from the note its driver keeps (``jobcore.state.cluster``, what
``jobcore show`` prints). Another host's job shows the facts its stream brought, and the end
of its log fetched through ssh every ``LOG_EVERY_S``.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from jobcore.state.cluster import describe, where_items_run
from jobcore.state.launch_env import redactor_for
from jobcore.state.live_line import read_live
from jobcore.state.models import Job, JobStatus
from jobtui.hosts import LOG_EVERY_S, split_id

if TYPE_CHECKING:
    from jobtui.app import JobApp
    from jobtui.widgets.detail import DetailPane
    from jobtui.widgets.log_tail import LogTail

LOG_LOOK_S = 0.25
"""The detail's log and live line are looked at this often at most, however many commits come
(each look is a trip to a thread)."""


class DetailFeed:
    """Keeps a detail pane and its log tail on the selected job."""

    def __init__(self, app: JobApp, detail: DetailPane, log: LogTail) -> None:
        self.app = app
        self.detail = detail
        self.log = log
        self.shown: tuple[object, ...] | None = None
        """What the facts were last drawn from (None: draw them at the next look)."""
        self._log_looked = 0.0
        """When the log was last looked at (monotonic)."""
        self._remote_log: tuple[str, float] = ("", 0.0)
        """The remote job whose log is shown, and when it was last fetched (monotonic)."""

    async def refresh(self, job: Job, show_log: bool) -> None:
        """Facts, rate sparkline and new log lines of ``job``, each only when due."""
        if split_id(job.id)[0] is not None:
            await self._refresh_remote(job, show_log)
            return
        app = self.app
        # A running job's facts once a second (each redraw lays the screen out again: at 4
        # commits a second that was most of the app's CPU); any other job's when it changed.
        if job.status is JobStatus.RUNNING:
            key: tuple[object, ...] = (job.id, job.status, round(app.clock()))
        else:
            key = (job,)
        if key != self.shown:
            self.shown = key
            samples = await app.reader.samples(job.id)
            failed = await app.reader.failed_items(job.id) if job.is_batch else []
            running = await app.reader.running_items(job.id) if job.is_batch else []
            if failed or running:  # an item may be a credentialed URL: shown as the CLI shows it
                redact = redactor_for(app.state, job)
                failed = [(redact.text(i), n, redact.text(e)) for i, n, e in failed]
                running = [(redact.text(i), redact.text(p)) for i, p in running]
            cluster = None
            if job.spec.get("cluster"):
                where = await asyncio.to_thread(where_items_run, app.state, job)
                cluster = describe(where)
            self.detail.show(job, app.clock(), samples, app.palette, failed, running, cluster)
        # The facts first: they set the log's height, and the log then scrolls to its end.
        log = self.log
        path = app.state.log_path(job.id)
        if log.path != path:
            await log.follow(path)
        elif time.monotonic() - self._log_looked < LOG_LOOK_S:
            return
        else:
            await log.poll()
        self._log_looked = time.monotonic()
        live = None
        if job.status is JobStatus.RUNNING and show_log:
            live = await asyncio.to_thread(read_live, app.state.live_path(job.id))
        self.detail.show_live(live)

    async def _refresh_remote(self, job: Job, show_log: bool) -> None:
        """A remote job's facts as streamed, and its log fetched through ssh now and then."""
        app = self.app
        key = (job, round(app.clock()))
        if key != self.shown:
            self.shown = key
            self.detail.show(job, app.clock(), [], app.palette)
            self.detail.show_live(None)
        shown, fetched = self._remote_log
        if not show_log or (shown == job.id and time.monotonic() - fetched < LOG_EVERY_S):
            return
        self._remote_log = (job.id, time.monotonic())
        text = await asyncio.to_thread(app.hosts.read_log, job.id)
        if app.model.selected_id == job.id and app.is_running:
            self.log.path = None  # a local job selected next is followed afresh
            self.log.clear()
            self.log.write(text)
