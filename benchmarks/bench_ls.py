"""``jobcore ls --json --all`` with 10,000 jobs recorded, against raw sqlite3 ``fetchall``.

Two views, side by side: the whole command as a user runs it (wall time of the console script
against ``python -c`` opening the same database and fetching the same rows), and the same
work in-process against ``fetchall``, which leaves interpreter start-up out: the text
``ls --json`` writes in a pipe (``Store.list_json_text``), and the ``Job`` objects the other
readers build (``Store.list_jobs`` + ``to_json`` + ``json.dumps``). ``tsp -l`` with
as many finished jobs and ``python -c pass`` run in the same rounds (nq has no list command:
its queue is a folder of files).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time
from typing import Any

from benchmarks.common import (
    PYTHON,
    env_for,
    fill_history,
    interleaved,
    jobcore_argv,
    median,
    ms,
    open_store,
    row,
    sections,
    temp_home,
    time_once,
)

JOBS = 10_000
ROUNDS = 5
INPROC_ROUNDS = 5
QUERY = "SELECT * FROM jobs ORDER BY seq DESC"


def _fill(home: Any) -> None:
    fill_history(home, JOBS // 2, name="nightly")
    fill_history_unnamed(home, JOBS - JOBS // 2)


def fill_history_unnamed(home: Any, count: int) -> None:
    """More finished jobs, unnamed, with ids that do not clash with the first batch."""
    from benchmarks.common import fake_ids

    with open_store(home) as store, store.write() as conn:
        t = time.time() - 1000.0
        conn.executemany(
            "INSERT INTO jobs (id, name, command, cwd, env, status, created_at, queued_at,"
            " started_at, finished_at, exit_code, reason) VALUES (?, NULL, ?, '/tmp', ?, ?,"
            " ?, ?, ?, ?, ?, ?)",
            [
                (
                    job_id,
                    json.dumps(["python", "work.py", f"--part={i}"]),
                    json.dumps({"MODE": "full"}),
                    "failed" if i % 10 == 0 else "completed",
                    t + i,
                    t + i,
                    t + i + 0.1,
                    t + i + 0.9,
                    1 if i % 10 == 0 else 0,
                    "exited with code 1" if i % 10 == 0 else None,
                )
                for i, job_id in enumerate(fake_ids(count, start=JOBS))
            ],
        )


def _fill_tsp(home: Any) -> tuple[list[str], dict[str, str]] | None:
    """A private tsp server that has run JOBS ``true`` jobs: ``tsp -l``'s argv and env."""
    tsp = shutil.which("tsp")
    if tsp is None:
        return None
    env = env_for(
        home,
        TS_SOCKET=str(home.parent / "ts.sock"),
        TMPDIR=str(home.parent),
        TS_MAXFINISHED=str(JOBS),
        TS_SLOTS="2",
    )
    for _ in range(JOBS):
        subprocess.run([tsp, "-n", "true"], env=env, check=True, capture_output=True)
    subprocess.run([tsp, "-w"], env=env, check=False, capture_output=True)
    return [tsp, "-l"], env


def _cli_rows() -> list[dict[str, Any]]:
    with temp_home() as home:
        _fill(home)
        tsp = _fill_tsp(home)
        env = env_for(home)
        db = str(home / "jobcore.db")
        peer_code = (
            "import sqlite3, sys\n"
            f"conn = sqlite3.connect({db!r})\n"
            f"rows = conn.execute({QUERY!r}).fetchall()\n"
            "assert len(rows) >= 1\n"
        )
        counts: list[int] = []

        def jobcore() -> float:
            elapsed, proc = time_once(jobcore_argv("ls", "--json", "--all"), env=env)
            counts.append(len(json.loads(proc.stdout)))
            return elapsed

        def peer() -> float:
            return time_once([PYTHON, "-c", peer_code], env=env)[0]

        def python() -> float:
            return time_once([PYTHON, "-c", "pass"], env=env)[0]

        contenders = {"jobcore": jobcore, "peer": peer, "python": python}
        if tsp is not None:
            contenders["tsp"] = lambda: time_once(tsp[0], env=tsp[1])[0]
        try:
            times = interleaved(contenders, ROUNDS, warmup=1)
        finally:
            if tsp is not None:
                subprocess.run([tsp[0][0], "-K"], env=tsp[1], check=False, capture_output=True)
    if set(counts) != {JOBS}:
        raise AssertionError(f"ls --json --all listed {sorted(set(counts))} jobs, not {JOBS}")
    tsp_note = (
        f"tsp -l {ms(median(times['tsp'])):.1f} ms" if "tsp" in times else "tsp not installed"
    )
    return [
        row(
            f"jobcore ls --json --all, {JOBS:,} jobs (wall, median)",
            ms(median(times["jobcore"])),
            "ms",
            peer_name="python -c sqlite3 fetchall",
            peer=ms(median(times["peer"])),
            target="<= 150",
            note=f"whole processes, start-up included; {tsp_note} ({JOBS:,} finished jobs),"
            f" python -c pass {ms(median(times['python'])):.1f} ms",
        ),
    ]


def _inprocess_rows() -> list[dict[str, Any]]:
    with temp_home() as home:
        _fill(home)
        store = open_store(home)
        conn = sqlite3.connect(str(home / "jobcore.db"))
        try:

            def jobcore() -> float:
                start = time.perf_counter()
                json.dumps(
                    [job.to_json() for job in store.list_jobs()], indent=2, ensure_ascii=False
                )
                return time.perf_counter() - start

            def jobcore_text() -> float:
                start = time.perf_counter()
                store.list_json_text()
                return time.perf_counter() - start

            def jobcore_rows() -> float:
                start = time.perf_counter()
                store.list_jobs()
                return time.perf_counter() - start

            def peer() -> float:
                start = time.perf_counter()
                conn.execute(QUERY).fetchall()
                return time.perf_counter() - start

            times = interleaved(
                {"jobcore": jobcore, "text": jobcore_text, "rows": jobcore_rows, "peer": peer},
                INPROC_ROUNDS,
                warmup=1,
            )
        finally:
            store.close()
            conn.close()
    return [
        row(
            f"in-process: list_json_text (ls --json in a pipe), {JOBS:,} jobs",
            ms(median(times["text"])),
            "ms",
            peer_name="sqlite3 fetchall",
            peer=ms(median(times["peer"])),
        ),
        row(
            f"in-process: list_jobs + to_json + dumps, {JOBS:,} jobs",
            ms(median(times["jobcore"])),
            "ms",
            peer_name="sqlite3 fetchall",
            peer=ms(median(times["peer"])),
        ),
        row(
            f"in-process: Store.list_jobs only, {JOBS:,} jobs",
            ms(median(times["rows"])),
            "ms",
            peer_name="sqlite3 fetchall",
            peer=ms(median(times["peer"])),
        ),
    ]


def run() -> list[dict[str, Any]]:
    return sections(_cli_rows, _inprocess_rows)


if __name__ == "__main__":
    from benchmarks.run import table

    print(table(run()))
