"""CPU and memory of each running job's process tree (the worker and all its descendants).

``cpu_percent`` measures since the previous call on the same ``psutil.Process`` object, so the
objects are kept between measurements; a pid is trusted only while its start time matches the
worker recorded in the job (pids are reused within a minute).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from jobcore.liveness import is_alive
from jobcore.models import Job


@dataclass(frozen=True)
class Usage:
    """Resources one job's tree used at the last measurement."""

    cpu_percent: float
    """Sum over the tree, so 200 means two busy cores."""
    rss: int
    """Resident memory of the tree in bytes."""


def _children_map() -> dict[int, list[psutil.Process]]:
    """Every process's children, from one pass over the process table.

    ``Process.children()`` scans the whole table on each call; with many running jobs one
    shared scan is what keeps the dashboard's polling cheap.
    """
    children: dict[int, list[psutil.Process]] = {}
    for proc in psutil.process_iter(["ppid"]):
        ppid = proc.info["ppid"]
        if ppid is not None:
            children.setdefault(ppid, []).append(proc)
    return children


def _descendants(pid: int, children: dict[int, list[psutil.Process]]) -> list[psutil.Process]:
    found: list[psutil.Process] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child.pid)
    return found


class TreeUsage:
    """Measures process trees; call ``measure`` every second or two from a thread."""

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}

    def measure(self, jobs: Iterable[Job]) -> dict[str, Usage]:
        """Usage per job id, for the jobs whose worker is still alive."""
        result: dict[str, Usage] = {}
        kept: dict[int, psutil.Process] = {}
        live = [j for j in jobs if j.worker is not None and is_alive(j.worker)]
        children = _children_map() if live else {}
        for job in live:
            assert job.worker is not None
            try:
                tree = [psutil.Process(job.worker.pid)]
            except psutil.Error:
                continue
            tree += _descendants(job.worker.pid, children)
            cpu = 0.0
            rss = 0
            for fresh in tree:
                proc = self._procs.get(fresh.pid)
                if proc is None or proc.create_time() != fresh.create_time():
                    proc = fresh
                try:
                    cpu += proc.cpu_percent(interval=None)
                    rss += proc.memory_info().rss
                except psutil.Error:
                    continue
                kept[proc.pid] = proc
            result[job.id] = Usage(cpu, rss)
        self._procs = kept
        return result
