"""``ls --json`` of many jobs, built straight from rows instead of through ``Job`` objects."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from jobcore.state.models import JobStatus, decoded, iso, run_time

JSON_COLUMNS = (
    "id, name, status, worker_pid, cmd_pid, command, masked, cwd, env, redact, created_at,"
    " started_at, finished_at, exit_code, reason, total, done, errors, current_item, rate,"
    " eta_s, progress_at, paused_until, spec, grp, priority, after, not_before, waiting_on,"
    " on_done, run_s"
)
"""The columns ``jobs_json`` reads, in its order."""


def jobs_json(rows: Iterable[tuple[Any, ...]], now: float | None = None) -> list[dict[str, Any]]:
    """``Job.from_row(row).to_json()`` of each row, built straight from the rows (shared lists
    and dicts: for printing); tests/test_json.py keeps the two the same
    (docs/decisions/0012-compact-json-straight-from-rows.md). The reference of
    ``jobcore.state.json_text``, which writes the same as text."""
    shown: dict[tuple[str, str | None], Any] = {}
    envs: dict[tuple[str, str], dict[str, str]] = {}
    found = []
    now = time.time() if now is None else now
    for (
        job_id, name, status, worker_pid, cmd_pid, command, masked, cwd, env, redact,
        created_at, started_at, finished_at, exit_code, reason, total, done, errors,
        current_item, rate, eta_s, progress_at, paused_until, spec, grp, priority, after,
        not_before, waiting_on, on_done, run_s,
    ) in rows:  # fmt: skip
        if masked is None:
            shown_command = shown.get((command, None))
            if shown_command is None:
                shown_command = shown[(command, None)] = shown_argv(command, None)
        else:
            shown_command = shown_argv(command, masked)
        shown_env = envs.get((env, redact))
        if shown_env is None:
            shown_env = envs[(env, redact)] = shown_environment(env, redact)
        batch = decoded(spec)
        running = status == JobStatus.RUNNING.value
        found.append(
            {
                "id": job_id,
                "name": name,
                "status": status,
                "pid": worker_pid,
                "command_pid": cmd_pid,
                "command": shown_command,
                "cwd": cwd,
                "env": shown_env,
                "created_at": None if created_at is None else iso(created_at),
                "started_at": None if started_at is None else iso(started_at),
                "finished_at": None if finished_at is None else iso(finished_at),
                "exit_code": exit_code,
                "error": reason if status == "failed" else None,
                "reason": reason,
                "total": total,
                "done": done,
                "errors": errors,
                "current_item": current_item,
                "rate": rate if running else None,
                "eta_s": eta_s if running else None,
                "elapsed_s": run_time(status, started_at, finished_at, run_s, now),
                "progress_updated_at": None if progress_at is None else iso(progress_at),
                "paused_until": None if paused_until is None else iso(paused_until),
                "batch": batch or None,
                "group": grp,
                "priority": priority,
                "after": decoded(after),
                "not_before": None if not_before is None else iso(not_before),
                "waiting_on": waiting_on,
                "on_done": shown_callback(on_done, masked),
            }
        )
    return found


def shown_argv(command: str, masked: str | None) -> Any:
    """``Job.shown_command`` from the two columns: as masked at launch, else masked now."""
    if masked is None:
        from jobcore.base.redact import mask_argv

        return mask_argv(decoded(command))
    masks = decoded(masked)
    return masks["command"] if "command" in masks else decoded(command)


def shown_callback(on_done: str | None, masked: str | None) -> Any:
    """``Job.shown_on_done`` from the two columns."""
    if on_done is None:
        return None
    if masked is None:
        from jobcore.base.redact import mask_text

        return mask_text(on_done)
    return decoded(masked).get("on_done", on_done)


def shown_environment(env: str, redact: str) -> Any:
    """``Job.masked_env`` from the two columns: secret values masked."""
    env_map = decoded(env)
    if not env_map:
        return env_map
    from jobcore.base.redact import mask_env

    return mask_env(env_map, decoded(redact))
