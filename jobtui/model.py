"""What the dashboard shows, as plain data: rows per panel, selection, marks, sort, summary.

No Textual here: the screen draws what this says, and tests check it without an app. A
snapshot read from the database goes in (``update``); rows per status panel, the jobs an
action applies to, the summary line and the jobs that just ended come out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from jobcore.state.models import Job, JobStatus
from jobcore.view import fmt
from jobtui.data import Snapshot
from jobtui.hosts import split_id
from jobtui.usage import Usage

PANEL_ORDER = (
    JobStatus.RUNNING,
    JobStatus.QUEUED,
    JobStatus.PAUSED,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
    JobStatus.COMPLETED,
)


@dataclass(frozen=True)
class JobRow:
    """One job as a row shows it: the job and what the row adds to it."""

    job: Job
    group_paused: bool = False
    """The job's group is paused (nothing of it starts)."""
    position: int | None = None
    """A queued job's place in its group's line (1: next)."""
    usage: Usage | None = None
    """CPU and memory of a running job's tree, from the last poll."""
    marked: bool = False
    """Marked with space: actions apply to all marked jobs."""
    host: str = ""
    """With other hosts shown: where the job runs (``local``, a host, its age when offline)."""
    offline: bool = False
    """The job's host is offline: the row is its last snapshot, greyed."""

    @property
    def shown_id(self) -> str:
        """The id as the ID column shows it (a remote job's without its ``HOST/``)."""
        return split_id(self.job.id)[1]

    @property
    def status_label(self) -> str:
        """The status word, ``held`` for a queued job that waits for ``release``."""
        if self.job.status is JobStatus.QUEUED and self.job.queue.held:
            return "held"
        return self.job.status.value

    @property
    def note(self) -> str:
        """What a row that is not running says in place of rate, ETA and resources."""
        job = self.job
        if job.status is JobStatus.QUEUED:
            return waiting_note(job, self.position, self.group_paused)
        if job.status is JobStatus.COMPLETED:
            return job.current_item or ""
        return job.reason or ""


def waiting_note(job: Job, position: int | None, group_paused: bool) -> str:
    """What a queued job waits for, and its place in line."""
    if job.queue.held:
        what = "held (release to queue)"
    elif group_paused or job.waiting_on == "paused":
        what = f"group {job.queue.group} paused"
    elif job.waiting_on == "deps" and job.queue.after:
        what = "job " + ", ".join(job.queue.after)
    elif job.waiting_on == "delay" and job.queue.not_before is not None:
        what = "its start time"
    else:
        what = "a slot" if job.waiting_on == "slot" else "its turn"
    return what if position is None else f"{what} · #{position} in line"


@dataclass(frozen=True)
class ColumnNeeds:
    """What the rows need of the shared columns (widths from the data, not guesses)."""

    name: int = 8
    """The longest name shown (its column grows up to this)."""
    counts: int = 3
    """The widest ``done/total``."""
    groups: bool = False
    """Any job is outside the default group: the GROUP column is shown."""
    group: int = 5
    hosts: bool = False
    """Other hosts are watched: the HOST column is shown."""
    host: int = 5
    """The widest HOST cell."""


SORTS: dict[str, tuple[str | None, Callable[[Job], str | float] | None]] = {
    "newest": (None, None),
    "name": ("name", lambda job: job.label.lower()),
    "start": ("elapsed", lambda job: -(job.started_at or job.queued_at)),
    "progress": ("progress", lambda job: -(job.done / job.total if job.total else 0.0)),
    "rate": ("rate", lambda job: -(job.rate or 0.0)),
}
"""Sort orders ``a`` cycles through: the column it marks and the key (None: newest first)."""


@dataclass
class DashboardModel:
    """The dashboard's state apart from its widgets."""

    snapshot: Snapshot = field(default_factory=Snapshot)
    """The last data read."""
    usage: Mapping[str, Usage] = field(default_factory=dict)
    """CPU and memory per running job, from the last poll."""
    selected_id: str | None = None
    """The job the keys act on (the focused list's cursor puts it here)."""
    marks: set[str] = field(default_factory=set)
    """Jobs marked with space."""
    sort: str = "newest"
    """One of ``SORTS``."""
    filter_text: str = ""
    """Only jobs whose id, name, command or current item contain this are read."""
    group: str | None = None
    """Only jobs of this group are read (None: all)."""
    loaded: bool = False
    """A first snapshot has been read."""
    host_of: Callable[[Job], tuple[str, bool]] | None = None
    """With other hosts watched: a job's HOST cell and whether its host is offline."""

    def update(self, snapshot: Snapshot) -> list[Job]:
        """Take a new snapshot; returns the jobs seen active before and finished now."""
        previous, self.snapshot, self.loaded = self.snapshot, snapshot, True
        present = {job.id for jobs in snapshot.jobs.values() for job in jobs}
        self.marks &= present
        return ended(previous, snapshot)

    def rows(self, status: JobStatus) -> list[JobRow]:
        """A panel's rows in the chosen order."""
        jobs = self.snapshot.jobs.get(status, [])
        _, key = SORTS[self.sort]
        if key is not None:
            jobs = sorted(jobs, key=key)
        positions = _positions(self.snapshot) if status is JobStatus.QUEUED else {}
        return [self._row(job, positions.get(job.id)) for job in jobs]

    def _row(self, job: Job, position: int | None) -> JobRow:
        host, offline = self.host_of(job) if self.host_of is not None else ("", False)
        return JobRow(
            job,
            # A paused group is this machine's: another host's group of that name is not.
            group_paused=job.queue.group in self.snapshot.paused_groups
            and split_id(job.id)[0] is None,
            position=position,
            usage=self.usage.get(job.id) if job.status is JobStatus.RUNNING else None,
            marked=job.id in self.marks,
            host=host,
            offline=offline,
        )

    def needs(self) -> ColumnNeeds:
        """What the shown jobs need of the columns."""
        jobs = [job for jobs in self.snapshot.jobs.values() for job in jobs]
        if not jobs:
            return ColumnNeeds()
        paused = self.snapshot.paused_groups
        groups = {job.queue.group for job in jobs}
        group_width = max(len(g) + (7 if g in paused else 0) for g in groups)
        return ColumnNeeds(
            hosts=self.host_of is not None,
            host=max(len(self.host_of(job)[0]) for job in jobs) if self.host_of else 0,
            name=max(len(job.label) for job in jobs),
            counts=max(len(f"{job.done}/{job.total}") if job.total else 3 for job in jobs),
            groups=groups != {"default"} or bool(paused),
            group=max(5, group_width),
        )

    def find(self, job_id: str | None) -> Job | None:
        return self.snapshot.find(job_id) if job_id else None

    @property
    def selected(self) -> Job | None:
        """The job the keys act on, as last read."""
        return self.find(self.selected_id)

    def cycle_sort(self) -> str:
        """The next sort order."""
        names = list(SORTS)
        self.sort = names[(names.index(self.sort) + 1) % len(names)]
        return self.sort

    @property
    def sort_column(self) -> str | None:
        return SORTS[self.sort][0]

    def toggle_mark(self, job_id: str) -> bool:
        """Mark or unmark a job; True if it is marked now."""
        if job_id in self.marks:
            self.marks.discard(job_id)
            return False
        self.marks.add(job_id)
        return True

    def targets(self, applies: Callable[[Job], bool]) -> list[Job]:
        """The jobs an action acts on: the marked ones it applies to, else the selected job."""
        if self.marks:
            marked = (self.find(job_id) for job_id in sorted(self.marks))
            return [job for job in marked if job is not None and applies(job)]
        job = self.selected
        return [job] if job is not None and applies(job) else []

    def summary(self) -> str:
        """Counts per state, the total rate, and the CPU and memory of all running jobs."""
        counts = self.snapshot.counts
        parts = []
        for status in PANEL_ORDER:
            if counts.get(status):
                part = f"{counts[status]:,} {status.value}"
                held = sum(1 for j in self.snapshot.jobs.get(status, []) if j.queue.held)
                if status is JobStatus.QUEUED and held:
                    part += f" ({held:,} held)"
                parts.append(part)
        if not parts:
            return "no jobs" if self.loaded else "loading…"
        running = self.snapshot.jobs.get(JobStatus.RUNNING, [])
        rate = sum(job.rate or 0.0 for job in running)
        if running:
            parts.append(f"{fmt.rate(rate)}")
            usage = [self.usage[job.id] for job in running if job.id in self.usage]
            if usage:
                cpu = sum(u.cpu_percent for u in usage)
                rss = sum(u.rss for u in usage)
                parts.append(f"CPU {cpu:.0f}% · MEM {rss / 2**20:,.0f}M")
        if self.marks:
            parts.append(f"{len(self.marks):,} marked")
        if self.sort != "newest":
            parts.append(f"sort: {self.sort}")
        for group in sorted(self.snapshot.paused_groups):
            parts.append(f"group {group} paused")
        return " · ".join(parts)


def ended(previous: Snapshot, snapshot: Snapshot) -> list[Job]:
    """Jobs active (running or queued) in ``previous`` and completed or failed in ``snapshot``."""
    active = {
        job.id
        for status in (JobStatus.RUNNING, JobStatus.QUEUED)
        for job in previous.jobs.get(status, [])
    }
    if not active:
        return []
    return [
        job
        for status in (JobStatus.COMPLETED, JobStatus.FAILED)
        for job in snapshot.jobs.get(status, [])
        if job.id in active
    ]


def _positions(snapshot: Snapshot) -> dict[str, int]:
    """Each queued job's place in its group's line: by priority, then age (as the queue)."""
    line: dict[tuple[str | None, str], list[Job]] = {}
    for job in snapshot.jobs.get(JobStatus.QUEUED, []):  # a line per host and group
        line.setdefault((split_id(job.id)[0], job.queue.group), []).append(job)
    positions = {}
    for jobs in line.values():
        ordered = sorted(jobs, key=lambda job: (-job.queue.priority, job.seq))
        positions.update({job.id: index for index, job in enumerate(ordered, 1)})
    return positions
