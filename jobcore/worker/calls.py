"""``package.module:function`` targets of Python batches, resolved the way the worker will.

The CLI resolves the target before launching anything, so a typo is refused at once instead
of producing a job whose every item fails.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from collections.abc import Callable
from functools import cache
from typing import Any

from jobcore.base.errors import JobcoreError, Pause, UsageError


def resolve(target: str, cwd: str) -> Callable[[str], Any]:
    """The function named by ``target``, importing its module with ``cwd`` on sys.path."""
    module_name, sep, attr_path = target.partition(":")
    if not sep or not module_name or not attr_path:
        raise UsageError(f"--call expects package.module:function, got {target!r}")
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise JobcoreError(f"--call {target}: no module named {exc.name!r}") from exc
        raise JobcoreError(f"--call {target}: importing {module_name} failed: {exc}") from exc
    except Exception as exc:
        raise JobcoreError(
            f"--call {target}: importing {module_name} failed: {type(exc).__name__}: {exc}"
        ) from exc
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise JobcoreError(f"--call {target}: {module_name} has no {attr_path!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise JobcoreError(f"--call {target}: {attr_path!r} is not callable")
    return obj


@cache
def _resolved(target: str, cwd: str) -> Callable[[str], Any]:
    return resolve(target, cwd)


def call_item(target: str, cwd: str, item: str, idx: int = 0, prefix: str = "") -> str | None:
    """Run the target on one item; its return value as JSON (None stays None).

    What it prints goes to the log under ``prefix``, and its progress is the item's (see
    ``jobcore.worker.call_output``); a failure's traceback is printed there too. Module-level so a
    process pool can pickle it; the target is resolved once per process.
    """
    from jobcore.worker import call_output

    call_output.working_on(idx, prefix)
    try:
        result = _resolved(target, cwd)(item)
        return None if result is None else json.dumps(result, default=str)
    except Pause:
        raise  # asked for, not a bug: its reason is the job's
    except BaseException:
        traceback.print_exc()
        raise
    finally:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        call_output.working_on(None, "")
