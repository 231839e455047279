"""Whole-file writes that a concurrent reader can never see half done."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jobcore.state.paths import open_folder, open_private


def write_json(path: Path, data: Any, *, root: Path, durable: bool = True) -> None:
    """Write JSON atomically (see ``write_bytes``)."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n", root=root, durable=durable)


def write_text(path: Path, text: str, *, root: Path, durable: bool = True) -> None:
    """Write text atomically and durably (see ``write_bytes``)."""
    write_bytes(path, text.encode("utf-8"), durable, root=root)


def make_durable(paths: Sequence[Path], *, root: Path) -> None:
    """Make files written with ``durable=False``, all in one folder, durable now: each file,
    then the folder once (a launch starts its worker first, then pays for these)."""
    for path in paths:
        fd = open_private(path, os.O_RDONLY, root)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    dir_fd = open_folder(paths[0].parent, root)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_bytes(path: Path, data: bytes, durable: bool = True, *, root: Path) -> None:
    """Write through a temp file in the same folder and rename it over ``path``: readers see the
    old file or the new, never half (docs/decisions/0017-atomic-rename-writes.md).

    ``durable`` also fsyncs the file and the folder, for records that must survive a crash.
    ``root`` is the state folder: every folder between it and ``path`` is reached without
    following a symlink, and the rename replaces a planted link rather than writing through it.
    """
    dir_fd = open_folder(path.parent, root)
    try:
        tmp = f".tmp-{os.urandom(8).hex()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600, dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                if durable:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
        if durable:
            os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
