"""The benchmark runner's own plumbing, on fake bench modules; no real benchmark runs here."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import run as runner  # noqa: E402


def _fake_rows() -> list[dict[str, Any]]:
    return [
        {
            "figure": "fast thing",
            "jobcore": 12.0,
            "peer_name": "peer",
            "peer": 10.0,
            "unit": "ms",
            "ratio": 1.2,
            "target": "<= 1.5x",
        },
        {
            "figure": "slow thing",
            "jobcore": 30.0,
            "peer_name": "peer",
            "peer": 10.0,
            "unit": "ms",
            "ratio": 3.0,
            "target": "<= 1.5x",
        },
        {
            "figure": "locked errors",
            "jobcore": 0.0,
            "peer_name": None,
            "peer": None,
            "unit": "errors",
            "ratio": None,
            "target": "== 0",
        },
        {
            "figure": "flat",
            "jobcore": 11.0,
            "peer_name": "0 jobs",
            "peer": 10.0,
            "unit": "ms",
            "ratio": 1.1,
            "target": "flat, <= 1.2",
        },
        {
            "figure": "no target",
            "jobcore": 5.0,
            "peer_name": None,
            "peer": None,
            "unit": "µs/item",
            "ratio": None,
            "target": "",
        },
    ]


def _boom() -> list[dict[str, Any]]:
    raise RuntimeError("bench exploded")


def test_rows_verdicts_and_error_rows() -> None:
    rows = runner.run_benches([("fake", _fake_rows), ("boom", _boom), ("after", _fake_rows)])
    assert [r["module"] for r in rows] == ["fake"] * 5 + ["boom"] + ["after"] * 5
    verdicts = {r["figure"]: r["met"] for r in rows if r["module"] == "fake"}
    assert verdicts == {
        "fast thing": True,
        "slow thing": False,
        "locked errors": True,
        "flat": True,
        "no target": None,
    }
    error = rows[5]
    assert error["met"] is False and "bench exploded" in error["error"]
    text = runner.table(rows)
    lines = text.splitlines()
    assert lines[0].split(" | ")[0].strip() == "figure"
    assert [h.strip() for h in lines[0].split("|")] == [
        "figure",
        "jobcore",
        "peer (name)",
        "ratio",
        "target",
        "met?",
    ]
    assert "ERROR: RuntimeError: bench exploded" in text
    assert "12 ms" in text and "10 ms (peer)" in text and "1.20x" in text
    assert len(lines) == 2 + len(rows)


def test_main_writes_json_and_merges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    benches = {"fake": _fake_rows, "boom": _boom}
    monkeypatch.setattr(runner, "available", lambda: sorted(benches))
    monkeypatch.setattr(runner, "load", lambda name: benches[name])
    out = tmp_path / "results.json"
    assert runner.main(["--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "slow thing" in printed and "ERROR" in printed
    data = json.loads(out.read_text())
    assert {"nproc", "python", "sqlite"} <= set(data["machine"])
    assert data["date"] and data["modules_run"] == ["boom", "fake"]
    assert len(data["rows"]) == 6
    # A partial run replaces only that module's rows.
    benches["fake"] = lambda: _fake_rows()[:1]
    assert runner.main(["fake", "--output", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [r["module"] for r in data["rows"]] == ["boom", "fake"]
    with pytest.raises(SystemExit):
        runner.main(["nosuch", "--output", str(out)])


def test_every_bench_module_imports_and_exposes_run() -> None:
    names = runner.available()
    assert {"launch", "ls", "logs", "progress", "sqlite"} <= set(names)
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        assert callable(getattr(module, "run", None)), name
