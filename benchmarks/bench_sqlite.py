"""Commits/s of ``Store.record_progress`` from 8 processes at once, against raw sqlite3.

8 writer processes start, open their connection, say "ready" and wait; all are released
together (so interpreter start-up is not timed), each makes ``COMMITS`` commits, and the
figure is all commits / (last end - first start). jobcore: each process reports progress for
its own job through ``Store.record_progress`` (one ``BEGIN IMMEDIATE`` transaction of a
read, a sample insert at most every 0.5 s, a rate query and an UPDATE). Peer: the same
pragmas (WAL, busy_timeout 30 s, synchronous=NORMAL) and ``BEGIN IMMEDIATE`` around one
INSERT. Every "database is locked" error is counted (target 0); rounds alternate.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from benchmarks.common import PYTHON, REPO, env_for, median, open_store, row, temp_home

PROCESSES = 8
COMMITS = 500
ROUNDS = 3

WRITER = r"""
import json, sqlite3, sys, time
mode, db, job_id, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if mode == "store":
    from pathlib import Path
    from jobcore.state.paths import StateDir
    from jobcore.state.store import Store
    store = Store(StateDir(Path(db).parent))
    def commit(i):
        store.record_progress(job_id, advance=1, item=f"item {i}")
else:
    conn = sqlite3.connect(db, timeout=30, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    def commit(i):
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("INSERT INTO events (job_id, t, done) VALUES (?, ?, ?)",
                         (job_id, time.time(), i))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
print("ready", flush=True)
sys.stdin.readline()
ok = locked = other = 0
errors = []
start = time.time()
for i in range(n):
    try:
        commit(i)
        ok += 1
    except Exception as exc:
        if "locked" in str(exc) or "busy" in str(exc).lower():
            locked += 1
        else:
            other += 1
            errors.append(f"{type(exc).__name__}: {exc}")
end = time.time()
print(json.dumps({"start": start, "end": end, "ok": ok, "locked": locked, "other": other,
                  "errors": errors[:3]}), flush=True)
"""


def _round(mode: str, db: Path, job_ids: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One round of PROCESSES writers; returns commits/s and error counts."""
    procs: list[subprocess.Popen[str]] = []
    try:
        for job_id in job_ids:
            procs.append(
                subprocess.Popen(
                    [PYTHON, "-c", WRITER, mode, str(db), job_id, str(COMMITS)],
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"{mode} writer failed to start: {proc.stderr.read()[-2000:]}")
        for proc in procs:  # release them all at once
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = []
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            if proc.returncode != 0:
                raise RuntimeError(f"{mode} writer exited {proc.returncode}: {err[-2000:]}")
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    span = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    ok = sum(r["ok"] for r in reports)
    return {
        "rate": ok / span if span > 0 else float("nan"),
        "locked": sum(r["locked"] for r in reports),
        "other": sum(r["other"] for r in reports),
        "errors": [e for r in reports for e in r["errors"]][:3],
    }


def run() -> list[dict[str, Any]]:
    with temp_home() as home:
        with open_store(home) as store:
            job_ids = [
                store.create_job(["python", "work.py"], "/tmp", {}, f"writer-{i}").id
                for i in range(PROCESSES)
            ]
            store_db = store.state.db_path
        raw_db = home / "raw.db"
        conn = sqlite3.connect(raw_db, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE events (job_id TEXT NOT NULL, t REAL NOT NULL, done INTEGER NOT NULL)"
        )
        conn.close()
        env = env_for(home)
        env["PYTHONPATH"] = str(REPO)
        results: dict[str, list[dict[str, Any]]] = {"store": [], "raw": []}
        for _ in range(ROUNDS):
            results["store"].append(_round("store", store_db, job_ids, env))
            results["raw"].append(_round("raw", raw_db, job_ids, env))
        with open_store(home) as store:
            done = [store.get(job_id).done for job_id in job_ids]
    store_rate = median([r["rate"] for r in results["store"]])
    raw_rate = median([r["rate"] for r in results["raw"]])
    locked = sum(r["locked"] for r in results["store"])
    raw_locked = sum(r["locked"] for r in results["raw"])
    other = sum(r["other"] for r in results["store"])
    errors = [e for r in results["store"] for e in r["errors"]][:3]
    expected_done = ROUNDS * COMMITS
    rows = [
        row(
            f"Store.record_progress commits/s, {PROCESSES} processes (median of {ROUNDS})",
            store_rate,
            "commits/s",
            peer_name="raw sqlite3 INSERT, same pragmas",
            peer=raw_rate,
            note=f"higher is better; {PROCESSES} x {COMMITS} commits per round",
        ),
        row(
            f"'database is locked' errors, {PROCESSES} writers x {ROUNDS * COMMITS}",
            float(locked),
            "errors",
            peer_name="raw sqlite3",
            peer=float(raw_locked),
            ratio=None,
            target="== 0",
        ),
    ]
    if other or any(d != expected_done for d in done):
        rows.append(
            {
                **row(
                    "other write errors / lost progress",
                    float(other),
                    "errors",
                    target="== 0",
                    note=f"done per job {done} (expected {expected_done}); {errors}",
                ),
                "met": False,
            }
        )
    return rows


if __name__ == "__main__":
    from benchmarks.run import table

    print(table(run()))
