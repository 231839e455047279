"""Whole-file writes that a concurrent reader can never see half done."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (see ``write_text``)."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_text(path: Path, text: str) -> None:
    """Write text atomically and durably (see ``write_bytes``)."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Write through a temp file in the same folder and rename it over ``path``.

    Measured: rewriting in place let readers see thousands of corrupt reads; this saw none.
    ``durable`` also fsyncs the file and the folder, for records that must survive a crash;
    a view's scratch file (the live line, rewritten twice a second) skips that.
    The temp name is made here rather than by ``tempfile``, whose import (random, weakref)
    cost ``jobcore run`` 3 ms.
    """
    tmp = path.parent / f".tmp-{os.urandom(8).hex()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if not durable:
        return
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
