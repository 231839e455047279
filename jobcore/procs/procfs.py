"""``/proc/PID/stat`` read directly: far cheaper than psutil for the one or two fields we need
(docs/decisions/0016-read-proc-directly.md)."""

from __future__ import annotations

import os


def stat_fields(pid: int | str) -> list[bytes] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first, ppid second,
    start ticks twentieth), or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:  # no such process, or it exited meanwhile
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return data[data.rindex(b")") + 2 :].split()


def children_map() -> dict[int, list[int]]:
    """Every process's children (pids), from one pass over ``/proc``."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (fields := stat_fields(name)) is not None:
            children.setdefault(int(fields[1]), []).append(int(name))
    return children


def has_children() -> bool | None:
    """Whether this process has a child (a zombie counts) in any of its threads; None where
    the kernel does not list children (no CONFIG_PROC_CHILDREN)."""
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children", "rb") as fh:
                if fh.read().strip():
                    return True
    except OSError:
        return None
    return False
