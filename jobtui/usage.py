"""CPU and memory of each running job's process tree (the worker and all its descendants).

``cpu_percent`` measures since the previous call on the same ``psutil.Process`` object, so the
objects are kept between measurements; a pid is trusted only while its start time matches the
worker recorded in the job (pids are reused within a minute).
"""

from __future__ import annotations

import os
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


def _children_map() -> dict[int, list[int]]:
    """Every process's children (pids), from one pass over the process table.

    ``Process.children()`` scans the whole table on each call, so one shared scan serves all
    jobs. On Linux it reads ``/proc/PID/stat`` itself: psutil's ``process_iter`` builds an
    object per process and costs five times as much, every poll, on a busy machine.
    """
    children: dict[int, list[int]] = {}
    if not os.path.isdir("/proc/self"):
        for proc in psutil.process_iter(["ppid"]):
            if proc.info["ppid"] is not None:
                children.setdefault(proc.info["ppid"], []).append(proc.pid)
        return children
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                data = fh.read()
        except OSError:  # exited meanwhile
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        ppid = int(data[data.rindex(b")") + 2 :].split(None, 2)[1])
        children.setdefault(ppid, []).append(int(name))
    return children


def _descendants(pid: int, children: dict[int, list[int]]) -> list[int]:
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
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
            cpu = 0.0
            rss = 0
            for pid in [job.worker.pid, *_descendants(job.worker.pid, children)]:
                try:
                    proc = self._procs.get(pid)
                    if proc is None or not proc.is_running():  # new, or its pid reused
                        proc = psutil.Process(pid)
                    cpu += proc.cpu_percent(interval=None)
                    rss += proc.memory_info().rss
                except psutil.Error:
                    continue
                kept[pid] = proc
            result[job.id] = Usage(cpu, rss)
        self._procs = kept
        return result
