"""``ls --json`` written as text (``jobcore.state.json_text``) is byte for byte what
``json.dumps`` of the reference objects (``jobs_json``) is, for any row: secrets, unicode,
NULLs, huge numbers, values of the wrong type, JSON columns spelled any way."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobcore.state import json_text
from jobcore.state.json_rows import JSON_COLUMNS, jobs_json
from jobcore.state.schema import MIGRATIONS, split_sql

NOW = 1_800_000_000.123456
TOKEN = "ghp_" + "A1b2" * 9
SECRETS = [
    TOKEN,
    f"https://user:{TOKEN}@example.com/x",
    "Authorization: Bearer abcdefghijklmnop",
    "AKIAABCDEFGHIJKLMNOP",
    "xoxb-1234567890-abcdef",
    "glpat-abcdefghijklmnopqrstu",
]
ODD_TEXTS = [
    "",
    "plain",
    'quo"te',
    "back\\slash",
    "tab\tnew\nline",
    "\x00nul",
    "ü 日本 \u2028",
    "\x7f",
]
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12) | st.sampled_from(
    [*ODD_TEXTS, *SECRETS]
)
INTEGER = st.integers(-(2**63), 2**63 - 1)
FLOAT = st.floats(allow_nan=False) | st.sampled_from(
    [0.0, -0.0, 1e16, 1e-5, 0.1, 1.9999999999999998]
)
TIME = st.floats(-1e10, 4e10, allow_nan=False) | st.sampled_from(
    [0.0, 1_700_000_000.0, 1_700_000_000.9999999, 1_799_999_999.9995, -0.5]
)
ODD = st.one_of(TEXT, INTEGER, FLOAT, st.none())
"""Anything SQLite can hold in a column but a blob."""


def _spelled(value: Any) -> st.SearchStrategy[str]:
    """``value`` as JSON the ways a writer could spell it."""
    return st.sampled_from(
        [
            json.dumps(value),
            json.dumps(value, ensure_ascii=False),
            json.dumps(value, separators=(",", ":")),
        ]
    )


STRINGS = st.lists(TEXT, max_size=4)
COMMAND = STRINGS.flatmap(_spelled) | st.sampled_from(["[]", '["a",  "b"]', "[1, 2]", "nope"])
ENV = st.dictionaries(
    st.sampled_from(["MODE", "API_TOKEN", "db_password", "X", "aws_access_key", "Kelvin"]) | TEXT,
    TEXT,
    max_size=3,
).flatmap(_spelled) | st.sampled_from(["{}", '{"A": "1", "A": "2"}'])
MASKED = (
    st.none()
    | st.sampled_from(["{}"])
    | st.fixed_dictionaries({}, optional={"command": STRINGS, "on_done": TEXT}).flatmap(_spelled)
)
SPEC = st.sampled_from(["{}", "[]", '{"each": true, "parallel": 2, "backoff": 1.0}', "0"])
AFTER = STRINGS.flatmap(_spelled)
STATUS = st.sampled_from(["queued", "running", "paused", "completed", "failed", "cancelled"])


ROW = st.fixed_dictionaries(
    {
        "id": TEXT,
        "name": st.none() | TEXT,
        "status": STATUS,
        "worker_pid": st.none() | INTEGER,
        "cmd_pid": st.none() | INTEGER,
        "command": COMMAND,
        "masked": MASKED,
        "cwd": TEXT,
        "env": ENV,
        "redact": STRINGS.flatmap(_spelled),
        "created_at": TIME,
        "started_at": st.none() | TIME,
        "finished_at": st.none() | TIME,
        "exit_code": st.none() | INTEGER,
        "reason": st.none() | TEXT,
        "total": st.none() | INTEGER,
        "done": INTEGER,
        "errors": INTEGER,
        "current_item": st.none() | TEXT,
        "rate": st.none() | FLOAT,
        "eta_s": st.none() | FLOAT,
        "progress_at": st.none() | TIME,
        "paused_until": st.none() | TIME,
        "spec": SPEC,
        "grp": TEXT,
        "priority": INTEGER,
        "after": AFTER,
        "not_before": st.none() | TIME,
        "waiting_on": st.none() | TEXT,
        "on_done": st.none() | TEXT,
        "run_s": FLOAT,
    }
)
"""A row of ``jobs`` with the types jobcore writes."""


@st.composite
def odd_row(draw: st.DrawFn) -> dict[str, Any]:
    """A row with one column of another type than jobcore writes (a REAL pid, a text time)."""
    row = draw(ROW)
    row[draw(st.sampled_from(sorted(row)))] = draw(ODD)
    return row


def _database(rows: list[dict[str, Any]]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    for script in MIGRATIONS:
        for statement in split_sql(script):
            conn.execute(statement)
    for row in rows:
        row = {k: NOT_NULL[k] if v is None and k in NOT_NULL else v for k, v in row.items()}
        names = ", ".join(row)
        marks = ", ".join(f":{name}" for name in row)
        conn.execute(
            f"INSERT INTO jobs (queued_at, {names}) VALUES (0, {marks})"
            " ON CONFLICT (id) DO NOTHING",
            row,
        )
    return conn


NOT_NULL: dict[str, Any] = {"id": "x", "cwd": "/", "status": "queued", "created_at": 0.0}
NOT_NULL |= {"done": 0, "errors": 0, "grp": "default", "priority": 0, "run_s": 0.0}
NOT_NULL |= {"command": "[]", "env": "{}", "redact": "[]", "spec": "{}", "after": "[]"}
"""What a NOT NULL column holds where the strategy drew a NULL."""


def _reference(conn: sqlite3.Connection) -> str:
    rows = conn.execute(f"SELECT {JSON_COLUMNS} FROM jobs ORDER BY seq DESC")
    return json.dumps(jobs_json(rows, NOW), ensure_ascii=False)


def _outcome(call: Any) -> tuple[str, str]:
    """What ``call`` returned, or which error it raised with what message."""
    try:
        return "ok", call()
    except Exception as exc:
        return type(exc).__name__, str(exc)


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(ROW, max_size=6))
def test_rows_of_jobcore_types_are_written_as_text_exactly(rows: list[dict[str, Any]]) -> None:
    """Rows of the types jobcore writes never fall back: the text path writes them, the same."""
    conn = _database(rows)
    expected = _outcome(lambda: _reference(conn))
    cursor = conn.execute(f"SELECT {JSON_COLUMNS} FROM jobs ORDER BY seq DESC")
    written = _outcome(lambda: "[" + ", ".join(json_text._rows_text(cursor, NOW)) + "]")
    if expected[0] == "ok":
        assert written == expected


@SETTINGS
@given(st.lists(ROW | odd_row(), max_size=4))
def test_any_row_is_written_as_the_reference_writes_it(rows: list[dict[str, Any]]) -> None:
    """Odd types included: the same text, or the same error."""
    conn = _database(rows)
    assert _outcome(lambda: json_text.jobs_json_text(conn, now=NOW)) == _outcome(
        lambda: _reference(conn)
    )


def test_secrets_of_an_old_job_are_masked_as_shown() -> None:
    """A job from before masking at launch (``masked`` NULL): tokens in its command line and
    callback, a secret-named variable: none of them is written."""
    row = {
        "id": "old01",
        "status": "completed",
        "command": json.dumps(["curl", f"https://u:{TOKEN}@example.com", "-H", f"x {TOKEN}"]),
        "masked": None,
        "cwd": "/",
        "env": json.dumps({"API_TOKEN": "s3cret-value", "MODE": "x"}),
        "redact": json.dumps(["MODE"]),
        "created_at": 1_700_000_000.5,
        "on_done": f"notify {TOKEN}",
        "done": 0,
        "errors": 0,
        "grp": "default",
        "priority": 0,
        "run_s": 0.0,
    }
    conn = _database([row])
    text = json_text.jobs_json_text(conn, now=NOW)
    assert text == _reference(conn)
    assert TOKEN not in text and "s3cret-value" not in text
    assert json.loads(text)[0]["env"] == {"API_TOKEN": "***", "MODE": "***"}


def test_a_filter_and_a_running_job() -> None:
    base = {"cwd": "/", "env": "{}", "created_at": 1_700_000_000.0, "done": 1, "errors": 0}
    base |= {"grp": "default", "priority": 0, "command": '["sleep", "9"]', "masked": "{}"}
    rows = [
        dict(base, id="r1", status="running", started_at=1_700_000_001.25, rate=2.5, eta_s=4.0),
        dict(base, id="f1", status="failed", reason="exited with code 3", run_s=1.5),
    ]
    for row in rows:
        row.setdefault("run_s", 0.0)
    conn = _database(rows)
    assert json_text.jobs_json_text(conn, ["running"], now=NOW) == json.dumps(
        jobs_json(conn.execute(f"SELECT {JSON_COLUMNS} FROM jobs WHERE status = 'running'"), NOW),
        ensure_ascii=False,
    )
    both = json.loads(json_text.jobs_json_text(conn, now=NOW))
    assert [job["id"] for job in both] == ["f1", "r1"]
    assert both[1]["elapsed_s"] == NOW - 1_700_000_001.25 and both[1]["rate"] == 2.5
    assert both[0]["error"] == "exited with code 3" and both[0]["rate"] is None
