"""Defaults a user sets once: one small TOML file in the state folder.

    jobcore config set grace 30
    jobcore config set keep 10            # after each job, keep the newest 10 finished
    jobcore config set on_done 'notify-send "job $JOBCORE_JOB_ID $JOBCORE_JOB_STATUS"'
    jobcore config set redact_env API_KEY,DB_PASSWORD

Values are checked when set, and again when read: a hand-edited file with a bad value is
reported with the key and what was expected, never half-applied.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from jobcore.base.errors import JobcoreError, UsageError
from jobcore.base.limits import MAX_COUNT, MAX_SECONDS
from jobcore.state.paths import StateDir, open_private

CONFIG_NAME = "config.toml"


class Key(NamedTuple):
    parse: Callable[[str], Any]
    """Reads the value a user typed on the command line."""
    check: Callable[[Any], bool]
    """Accepts a value read from the file."""
    default: Any
    help: str


def _seconds(text: str) -> float:
    value = float(text)
    if not _is_seconds(value):
        raise ValueError
    return value


def _count(text: str) -> int:
    value = int(text)
    if not 0 <= value <= MAX_COUNT:
        raise ValueError
    return value


def _is_seconds(value: Any) -> bool:
    """From 0 to ten years; NaN and infinity are neither."""
    return isinstance(value, int | float) and 0 <= value <= MAX_SECONDS


def _address(text: str) -> str:
    from jobcore.base.addresses import check_address

    try:
        return check_address(text)
    except UsageError:
        raise ValueError from None


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not all(n.replace("_", "a").isalnum() for n in names):
        raise ValueError
    return names


def _hosts(text: str) -> list[str]:
    from jobcore.base.addresses import check_host

    try:
        return [check_host(h.strip()) for h in text.split(",") if h.strip()]
    except JobcoreError:
        raise ValueError from None


def _are_hosts(value: Any) -> bool:
    try:
        return isinstance(value, list) and _hosts(",".join(map(str, value))) == value
    except ValueError:
        return False


KEYS: dict[str, Key] = {
    "grace": Key(
        _seconds,
        _is_seconds,
        5.0,
        "seconds `stop` waits after SIGTERM before SIGKILL",
    ),
    "keep": Key(
        _count,
        lambda v: isinstance(v, int) and 0 <= v <= MAX_COUNT,
        None,
        "after a job ends, remove finished jobs beyond the newest N (unset: keep all)",
    ),
    "on_done": Key(
        str,
        lambda v: isinstance(v, str),
        None,
        "shell command run when a job ends (for jobs without --on-done)",
    ),
    "notify_after": Key(
        _seconds,
        _is_seconds,
        None,
        "desktop notification (notify-send) when a job that ran this many "
        "seconds ends; attach and wait also ring the terminal bell",
    ),
    "cluster": Key(
        _address,
        lambda v: isinstance(v, str),
        None,
        "Dask scheduler (tcp://HOST:PORT) that batches run on unless --cluster says otherwise",
    ),
    "redact_env": Key(
        _names,
        lambda v: isinstance(v, list) and all(isinstance(n, str) for n in v),
        [],
        "environment variable names whose values are masked in logs",
    ),
    "hosts": Key(
        _hosts,
        _are_hosts,
        [],
        "ssh hosts jobtui shows beside this machine (comma-separated; jobcore installed there)",
    ),
}


def path(state: StateDir) -> Path:
    return state.root / CONFIG_NAME


def load(state: StateDir) -> dict[str, Any]:
    """Every key with its value (the file's, else the default); refuses an invalid file."""
    values = {name: key.default for name, key in KEYS.items()}
    try:
        fd = open_private(path(state), os.O_RDONLY, state.root)
    except FileNotFoundError:
        return values
    fh = os.fdopen(fd, "rb")
    import tomllib  # paid only with a config file (docs/decisions/0015-light-start-path-imports.md)

    try:
        with fh:
            data = tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise JobcoreError(f"config file {path(state)} is not valid TOML: {exc}") from exc
    for name, value in data.items():
        key = KEYS.get(name)
        if key is None:
            raise JobcoreError(f"config file {path(state)}: unknown key {name!r}")
        if not key.check(value):
            raise JobcoreError(f"config file {path(state)}: bad value for {name!r}: {value!r}")
        values[name] = value
    return values


def set_value(state: StateDir, name: str, raw: str | None) -> None:
    """Set (or with None, unset) one key, checked first, written atomically."""
    import tomli_w

    from jobcore.state.atomic import write_text

    key = KEYS.get(name)
    if key is None:
        raise UsageError(f"unknown config key {name!r} (known: {', '.join(KEYS)})")
    if raw is not None:
        try:
            value = key.parse(raw)
        except ValueError:
            raise UsageError(f"bad value for {name}: {raw!r} ({key.help})") from None
    current = {k: v for k, v in load(state).items() if v != KEYS[k].default}
    if raw is None:
        current.pop(name, None)
    else:
        current[name] = value
    write_text(path(state), tomli_w.dumps(current), root=state.root)
