"""CPU and memory of each running job: its worker plus its cgroup, or its process tree.

A job with a cgroup (``jobcore.procs.cgroup``) is measured by the kernel: ``cpu.stat``'s
``usage_usec`` counts every member, those that came and went between two looks too (a
build's compilers, a batch's short items), and ``memory.current`` where the memory
controller reaches the cgroup. Otherwise, and for the worker itself, ``cpu_percent``
measures since the previous call on the same ``psutil.Process`` object, so the objects are
kept between measurements; a pid is trusted only while its start time matches the worker
recorded in the job (pids are reused within a minute).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from jobcore.procs.cgroup import JobCgroup, recorded_cgroup
from jobcore.procs.identity import is_alive
from jobcore.procs.procfs import children_map
from jobcore.state.models import Job
from jobcore.state.paths import StateDir


@dataclass(frozen=True)
class Usage:
    """Resources one job's tree used at the last measurement."""

    cpu_percent: float
    """Sum over the tree, so 200 means two busy cores."""
    rss: int
    """Resident memory of the tree in bytes."""


def _children_map() -> dict[int, list[int]]:
    """Every process's children (pids), from one pass over the process table.

    One shared scan serves all jobs; on Linux it reads ``/proc/PID/stat`` itself, far cheaper
    than ``process_iter`` (docs/decisions/0016-read-proc-directly.md).
    """
    children: dict[int, list[int]] = {}
    if not os.path.isdir("/proc/self"):
        for proc in psutil.process_iter(["ppid"]):
            if proc.info["ppid"] is not None:
                children.setdefault(proc.info["ppid"], []).append(proc.pid)
        return children
    return children_map()


def _descendants(pid: int, children: dict[int, list[int]]) -> list[int]:
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


class TreeUsage:
    """Measures running jobs; call ``measure`` every second or two from a thread."""

    def __init__(self, state: StateDir | None = None) -> None:
        self._state = state
        """Where jobs record their cgroups; None: process trees only."""
        self._procs: dict[int, psutil.Process] = {}
        self._cpu_seen: dict[str, tuple[float, int]] = {}
        """Per job with a cgroup: (monotonic time, usage_usec) at the previous measurement."""

    def measure(self, jobs: Iterable[Job]) -> dict[str, Usage]:
        """Usage per job id, for the jobs whose worker is still alive."""
        result: dict[str, Usage] = {}
        kept: dict[int, psutil.Process] = {}
        seen: dict[str, tuple[float, int]] = {}
        live = [j for j in jobs if j.worker is not None and is_alive(j.worker)]
        groups = {j.id: self._cgroup(j) for j in live}
        children = _children_map() if any(g is None for g in groups.values()) else {}
        for job in live:
            assert job.worker is not None
            group = groups[job.id]
            if group is None:
                pids = [job.worker.pid, *_descendants(job.worker.pid, children)]
                result[job.id] = Usage(*self._processes(pids, kept))
                continue
            cpu, rss = self._processes([job.worker.pid], kept)
            members_cpu, members_rss = self._processes(group.pids(), kept)
            memory = group.memory()
            rss += members_rss if memory is None else memory
            usec = group.cpu_usec()
            if usec is None:
                cpu += members_cpu
            else:
                seen[job.id] = (time.monotonic(), usec)
                cpu += self._cpu_percent(self._cpu_seen.get(job.id), seen[job.id])
            result[job.id] = Usage(cpu, rss)
        self._procs, self._cpu_seen = kept, seen
        return result

    def _cgroup(self, job: Job) -> JobCgroup | None:
        return recorded_cgroup(self._state, job.id) if self._state is not None else None

    def _processes(self, pids: list[int], kept: dict[int, psutil.Process]) -> tuple[float, int]:
        """CPU percent and resident memory summed over ``pids``."""
        cpu = 0.0
        rss = 0
        for pid in pids:
            try:
                proc = self._procs.get(pid)
                if proc is None or not proc.is_running():  # new, or its pid reused
                    proc = psutil.Process(pid)
                cpu += proc.cpu_percent(interval=None)
                rss += proc.memory_info().rss
            except psutil.Error:
                continue
            kept[pid] = proc
        return cpu, rss

    @staticmethod
    def _cpu_percent(before: tuple[float, int] | None, now: tuple[float, int]) -> float:
        """CPU between two readings of ``cpu.stat``; 0 at the first (as psutil's first call)."""
        if before is None or now[0] <= before[0]:
            return 0.0
        return max(0, now[1] - before[1]) / 1e6 / (now[0] - before[0]) * 100
