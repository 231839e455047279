"""``ls --json`` written as text row by row, not built as dicts and handed to ``json.dumps``.

Each row is one f-string: strings quoted by json's own ``encode_basestring``, integers by
``int.__repr__``, floats as ``json.dumps`` writes them, times by ``iso_json``; the command,
callback, environment, batch and dependencies as shown come from the reference functions
of ``jobcore.state.json_rows``, once per distinct stored text (a command line that masking
leaves alone is its stored text). Each of these raises on a value of another type (an
integer where a string is expected, a text where a time is); then ``jobs_json``, the
reference, writes the whole list instead, or raises its own error
(docs/decisions/0025-json-text-row-by-row.md; tests/test_json_text.py compares both).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterable, Sequence
from functools import cache
from json.encoder import encode_basestring
from typing import Any

from jobcore.state.json_rows import (
    JSON_COLUMNS,
    jobs_json,
    shown_argv,
    shown_callback,
    shown_environment,
)
from jobcore.state.models import decoded, iso_json, run_time


def jobs_json_text(
    conn: sqlite3.Connection, statuses: Sequence[str] | None = None, now: float | None = None
) -> str:
    """``json.dumps(jobs_json(rows), ensure_ascii=False)`` of the jobs with these statuses
    (all: None), newest first, read in one transaction; ``now`` times running jobs."""
    now = time.time() if now is None else now
    where = f" WHERE status IN ({','.join('?' * len(statuses))})" if statuses else ""
    sql = f"SELECT {JSON_COLUMNS} FROM jobs{where} ORDER BY seq DESC"
    began = not conn.in_transaction
    if began:
        conn.execute("BEGIN")
    try:
        cursor = conn.cursor()
        cursor.row_factory = None  # plain tuples, unpacked in JSON_COLUMNS order
        try:
            texts = _rows_text(cursor.execute(sql, statuses or ()), now)
        except Exception:  # a value of a type this path does not write: the reference decides
            rows = cursor.execute(sql, statuses or ())
            return json.dumps(jobs_json(rows, now), ensure_ascii=False)
    finally:
        if began:
            conn.execute("COMMIT")
    if not texts:
        return "[]"
    texts[0] = "[" + texts[0]  # the brackets on the rows: one copy of megabytes, not three
    texts[-1] += "]"
    return ", ".join(texts)


def _rows_text(rows: Iterable[tuple[Any, ...]], now: float) -> list[str]:
    """Each row as ``json.dumps`` would write its ``jobs_json`` object."""
    quoted = encode_basestring
    integer = int.__repr__
    stamp = iso_json
    number = _number
    commands: dict[tuple[str, str | None], str] = {}
    callbacks: dict[tuple[str, str | None], str] = {}
    envs: dict[tuple[str, str], str] = {}
    batches: dict[str, str] = {}
    afters: dict[str, str] = {}
    texts = []
    for (
        job_id, name, status, worker_pid, cmd_pid, command, masked, cwd, env, redact,
        created_at, started_at, finished_at, exit_code, reason, total, done, errors,
        current_item, rate, eta_s, progress_at, paused_until, spec, grp, priority, after,
        not_before, waiting_on, on_done, run_s,
    ) in rows:  # fmt: skip
        shown_command = commands.get((command, masked))
        if shown_command is None:
            shown_command = commands[(command, masked)] = _shown_command(command, masked)
        shown_env = "{}" if env == "{}" else envs.get((env, redact))
        if shown_env is None:
            shown_env = envs[(env, redact)] = _dumps(shown_environment(env, redact))
        shown_on_done = "null" if on_done is None else callbacks.get((on_done, masked))
        if shown_on_done is None:
            shown = _dumps(shown_callback(on_done, masked))
            shown_on_done = callbacks[(on_done, masked)] = shown
        batch = batches.get(spec)
        if batch is None:
            batch = batches[spec] = _dumps(decoded(spec) or None)
        shown_after = afters.get(after)
        if shown_after is None:
            shown_after = afters[after] = _dumps(decoded(after))
        running = status == "running"
        texts.append(
            f'{{"id": {quoted(job_id)}, "name": {"null" if name is None else quoted(name)},'
            f' "status": {quoted(status)},'
            f' "pid": {"null" if worker_pid is None else integer(worker_pid)},'
            f' "command_pid": {"null" if cmd_pid is None else integer(cmd_pid)},'
            f' "command": {shown_command}, "cwd": {quoted(cwd)}, "env": {shown_env},'
            f' "created_at": {stamp(created_at)},'
            f' "started_at": {"null" if started_at is None else stamp(started_at)},'
            f' "finished_at": {"null" if finished_at is None else stamp(finished_at)},'
            f' "exit_code": {"null" if exit_code is None else integer(exit_code)},'
            f' "error": {quoted(reason) if status == "failed" and reason is not None else "null"},'
            f' "reason": {"null" if reason is None else quoted(reason)},'
            f' "total": {"null" if total is None else integer(total)},'
            f' "done": {integer(done)}, "errors": {integer(errors)},'
            f' "current_item": {"null" if current_item is None else quoted(current_item)},'
            f' "rate": {number(rate) if running else "null"},'
            f' "eta_s": {number(eta_s) if running else "null"},'
            f' "elapsed_s": {number(run_time(status, started_at, finished_at, run_s, now))},'
            f' "progress_updated_at": {"null" if progress_at is None else stamp(progress_at)},'
            f' "paused_until": {"null" if paused_until is None else stamp(paused_until)},'
            f' "batch": {batch}, "group": {quoted(grp)}, "priority": {integer(priority)},'
            f' "after": {shown_after},'
            f' "not_before": {"null" if not_before is None else stamp(not_before)},'
            f' "waiting_on": {"null" if waiting_on is None else quoted(waiting_on)},'
            f' "on_done": {shown_on_done}}}'
        )
    return texts


def _shown_command(command: str, masked: str | None) -> str:
    """``shown_argv`` as JSON: the stored text itself where that is what it would be (a job
    whose launch masked nothing, or an older one with no token hint in its command line,
    spelled as ``json.dumps`` spells it), else through the reference."""
    unmasked = masked == "{}" or (masked is None and _hint().search(command.lower()) is None)
    if unmasked and (command == "[]" or _plain_strings(command)):
        return command
    return _dumps(shown_argv(command, masked))


@cache
def _hint() -> re.Pattern[str]:
    """``mask_argv``'s test: text with none of these has nothing to mask (imported here: only
    jobs from before masking at launch need it)."""
    from jobcore.base.redact import HINT

    return re.compile(HINT)


def _plain_strings(text: str) -> bool:
    """``text`` is a JSON list of strings with nothing to escape in them (no quote,
    backslash or control character), separated by ``", "``: what ``json.loads`` reads from
    it, ``json.dumps`` writes back as it is."""
    return (
        len(text) >= 4
        and text.startswith('["')
        and text.endswith('"]')
        and "\\" not in text
        and text.isprintable()
        and '"' not in text[2:-2].replace('", "', "")
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _number(value: object) -> str:
    """A float as ``json.dumps`` writes it (``repr``, or ``Infinity``), anything else so too."""
    if value is None:
        return "null"
    if type(value) is float and value - value == 0.0:
        return float.__repr__(value)
    return _dumps(value)
