"""Can this command run here? Checked before a job exists, so a typo never becomes a job."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence

from jobcore.base.errors import JobcoreError, UsageError


def find_executable(command: str, cwd: str, env: Mapping[str, str]) -> str | None:
    """Where ``command`` would be found when run from ``cwd`` with ``env``'s PATH."""
    if os.sep in command:
        path = os.path.join(cwd, command)
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    return _which(command, env.get("PATH", os.defpath))


def _which(name: str, path: str) -> str | None:
    """``shutil.which(name, path=path)`` for a name without a folder; shutil (2 ms) is left
    out of the launch path (docs/decisions/0024-lean-run-path.md)."""
    if not path:
        return None
    for folder in dict.fromkeys(path.split(os.pathsep)):
        found = os.path.join(folder, name)
        if os.path.exists(found) and os.access(found, os.X_OK) and not os.path.isdir(found):
            return found
    return None


def validate(command: Sequence[str], cwd: str, env: Mapping[str, str]) -> None:
    """Refuse what cannot run before a job exists: no command, a missing cwd or program."""
    if not command:
        raise UsageError("no command given (put it after --, e.g. jobcore run -- make test)")
    if not os.path.isdir(cwd):
        raise JobcoreError(f"cwd does not exist: {cwd}")
    if find_executable(command[0], cwd, env) is None:
        raise JobcoreError(_not_found(command, cwd, env))


def _not_found(command: Sequence[str], cwd: str, env: Mapping[str, str]) -> str:
    """Why a program cannot be run, with the fix: pueue's one-string habit, a missing x bit."""
    program = command[0]
    if os.sep in program:
        candidates = [os.path.join(cwd, program)]
    else:
        candidates = [os.path.join(d, program) for d in env.get("PATH", os.defpath).split(":")]
    for path in candidates:
        if os.path.isfile(path) and not os.access(path, os.X_OK):
            return f"{path} is not executable (chmod +x it, or run it with its interpreter)"
    if len(command) == 1 and " " in program.strip():
        return (
            f"command not found: {program!r} is one argument with spaces; to run it with a "
            f"shell: jobcore run -- sh -c {shlex.quote(program)}"
        )
    return f"command not found: {program}"
