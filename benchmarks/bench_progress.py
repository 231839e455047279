"""Per-item overhead of ``jobcore.progress()`` inside a job, against tqdm, over 1,000,000 items.

One subprocess (a clean environment: ``JOBCORE_HOME`` and ``JOBCORE_JOB_ID`` name a job made
with ``Store.create_job`` in a temporary state folder) runs, round-robin, a bare
``for x in range(N): pass``, the same loop through ``tqdm(file=devnull)``, through
``progress()`` reporting to the job, and through ``progress()`` with no job (no sink). The
overhead is (loop - bare loop) / N. The database writes the reporting loop made are counted
by the job's Reporter and checked against the job's final ``done``.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from benchmarks.common import PYTHON, REPO, env_for, median, open_store, row, temp_home

ITEMS = 1_000_000
ROUNDS = 5
WRITE_INTERVAL_S = 0.25
"""progress() inside a job writes at most this often (plus the first and the final state)."""

SCRIPT = r"""
import json, os, sys, time
from tqdm import tqdm
from jobcore import progress

N, ROUNDS = int(sys.argv[1]), int(sys.argv[2])
devnull = open(os.devnull, "w")
job_env = {k: os.environ[k] for k in ("JOBCORE_JOB_ID", "JOBCORE_HOME")}
writes = []

def bare():
    t = time.perf_counter()
    for x in range(N):
        pass
    return time.perf_counter() - t

def with_tqdm():
    t = time.perf_counter()
    for x in tqdm(range(N), file=devnull):
        pass
    return time.perf_counter() - t

def with_jobcore():
    t = time.perf_counter()
    bar = progress(range(N))
    for x in bar:
        pass
    elapsed = time.perf_counter() - t
    reporter = getattr(getattr(bar, "_sink", None), "reporter", None)
    writes.append(getattr(reporter, "writes", None))
    return elapsed

def without_job():
    for key in job_env:
        os.environ.pop(key)
    try:
        t = time.perf_counter()
        for x in progress(range(N)):
            pass
        return time.perf_counter() - t
    finally:
        os.environ.update(job_env)

contenders = {"bare": bare, "tqdm": with_tqdm, "jobcore": with_jobcore, "nojob": without_job}
times = {name: [] for name in contenders}
for r in range(ROUNDS + 1):
    for name, fn in contenders.items():
        value = fn()
        if r:
            times[name].append(value)
        elif name == "jobcore":
            writes.clear()
print(json.dumps({"times": times, "writes": writes}))
"""


def run() -> list[dict[str, Any]]:
    with temp_home() as home:
        with open_store(home) as store:
            job = store.create_job(["python", "loop.py"], "/tmp", {}, "progress-bench")
        env = env_for(home, JOBCORE_JOB_ID=job.id)
        env["PYTHONPATH"] = str(REPO)
        proc = subprocess.run(
            [PYTHON, "-c", SCRIPT, str(ITEMS), str(ROUNDS)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"progress loop exited {proc.returncode}: {proc.stderr[-2000:]}")
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        with open_store(home) as store:
            final_done = store.get(job.id).done
    times = {name: median(values) for name, values in data["times"].items()}

    def overhead_ns(name: str) -> float:
        return (times[name] - times["bare"]) / ITEMS * 1e9

    writes = [w for w in data["writes"] if w is not None]
    loop_s = times["jobcore"]
    bound = 2 + int(loop_s / WRITE_INTERVAL_S)
    rows = [
        row(
            f"progress() overhead inside a job, {ITEMS:,} items",
            overhead_ns("jobcore"),
            "ns/item",
            peer_name="tqdm(file=devnull)",
            peer=overhead_ns("tqdm"),
            target="<= 1.0x",
            note=f"bare loop {times['bare'] / ITEMS * 1e9:.1f} ns/item",
        ),
        row(
            f"progress() overhead outside a job, {ITEMS:,} items",
            overhead_ns("nojob"),
            "ns/item",
            peer_name="tqdm(file=devnull)",
            peer=overhead_ns("tqdm"),
            target="<= 1.0x",
        ),
    ]
    if writes:
        rows.append(
            row(
                f"database writes during the {ITEMS:,}-item loop ({loop_s * 1000:.0f} ms)",
                float(median(writes)),
                "writes",
                target=f"<= {bound}",
                note=f"per round: {writes}; bound = first + final + one per "
                f"{WRITE_INTERVAL_S} s; job's final done = {final_done:,}",
            )
        )
    if final_done != ITEMS:
        rows.append(
            {
                **row(
                    "job's final done after the loop",
                    float(final_done),
                    "items",
                    target=f"== {ITEMS}",
                ),
                "met": False,
            }
        )
    return rows


if __name__ == "__main__":
    from benchmarks.run import table

    print(table(run()))
