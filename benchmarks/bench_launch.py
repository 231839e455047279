"""How long ``jobcore run`` keeps the user waiting, against the bare interpreter and peers.

- ``jobcore run -q -- true`` (the console script, as typed) against ``python -c pass`` in the
  same environment, and against ``nq true`` / ``tsp true`` when they are installed; all
  side by side, round-robin, each launched job waited for (untimed) before the next round.
- What the launch path imports: ``-X importtime`` totals of ``import jobcore.cli`` against
  the bare interpreter, and the heavy modules a ``run`` actually loads (should be none).
- ``jobcore run`` with 100,000 finished jobs in history against an empty history (flat).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
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
    p95,
    row,
    sections,
    temp_home,
    time_once,
    wait_job_finished,
)

ROUNDS = 15
HISTORY_ROUNDS = 11
HISTORY_JOBS = 100_000
IMPORT_ROUNDS = 5
HEAVY = ("psutil", "textual", "rich", "aiosqlite", "watchfiles", "platformdirs", "argcomplete",
         "asyncio", "tqdm", "jobtui", "multiprocessing", "concurrent")


def _jobcore_runner(home: Path, *extra: str) -> Any:
    """A callable: one timed ``jobcore run ... -- true``, then (untimed) wait for the job."""
    env = env_for(home)
    store_box: list[Any] = []

    def once() -> float:
        elapsed, proc = time_once(jobcore_argv("run", *extra, "--", "true"), env=env)
        job_id = proc.stdout.decode().strip()
        if not store_box:
            store_box.append(open_store(home))
        try:
            wait_job_finished(store_box[0], job_id, timeout=20)
        except TimeoutError as exc:
            history = store_box[0].conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
            raise TimeoutError(
                f"after `jobcore run {' '.join(extra)} -- true` ({history:,} jobs in the"
                f" state folder): {exc}"
            ) from exc
        return elapsed

    once.close = lambda: [s.close() for s in store_box]  # type: ignore[attr-defined]
    return once


def _command_runner(argv: list[str], env: dict[str, str]) -> Any:
    def once() -> float:
        return time_once(argv, env=env)[0]

    return once


def _importtime_total(code: str) -> float:
    """Total import time (µs) of ``python -X importtime -c code``: top-level cumulative sum."""
    proc = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", code],
        env=env_for(None),
        capture_output=True,
        text=True,
        check=True,
    )
    total = 0
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if not name.startswith("  "):  # top level: one space after the bar
            total += int(cumulative)
    return float(total)


def _heaviest_imports(code: str, count: int = 5) -> list[tuple[str, int]]:
    """The modules with the largest self import time (µs) under ``-c code``."""
    proc = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", code],
        env=env_for(None),
        capture_output=True,
        text=True,
        check=True,
    )
    found = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, _cumulative, name = line.removeprefix("import time:").split("|", 2)
        found.append((name.strip(), int(self_us)))
    found.sort(key=lambda item: -item[1])
    return found[:count]


def _imports_of_run(home: Path) -> list[str]:
    """Heavy modules loaded by a whole ``jobcore run -q -- true`` in a fresh interpreter."""
    code = (
        "import sys, json, io, contextlib\n"
        "from jobcore.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['run', '-q', '--', 'true'])\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    proc = subprocess.run(
        [PYTHON, "-c", code], env=env_for(home), capture_output=True, text=True, check=True
    )
    return sorted({m.split(".")[0] for m in json.loads(proc.stdout.strip().splitlines()[-1])})


def _launch_rows() -> list[dict[str, Any]]:
    rows = []
    with temp_home() as home:
        scratch = home.parent
        contenders: dict[str, Any] = {
            "jobcore": _jobcore_runner(home, "-q"),
            "python -c pass": _command_runner([PYTHON, "-c", "pass"], env_for(home)),
        }
        nq, tsp = shutil.which("nq"), shutil.which("tsp")
        if nq:
            (scratch / "nq").mkdir()
            contenders["nq"] = _command_runner(
                [nq, "true"], env_for(home, NQDIR=str(scratch / "nq"))
            )
        tsp_env = env_for(home, TS_SOCKET=str(scratch / "ts.sock"), TMPDIR=str(scratch))
        if tsp:
            contenders["tsp"] = _command_runner([tsp, "true"], tsp_env)
        try:
            times = interleaved(contenders, ROUNDS, warmup=2)
        finally:
            contenders["jobcore"].close()
            if tsp:
                subprocess.run([tsp, "-K"], env=tsp_env, capture_output=True, check=False)
        jc = times["jobcore"]
        py = times["python -c pass"]
        rows.append(row("jobcore run -q -- true, wall (median)", ms(median(jc)), "ms",
                        peer_name="python -c pass", peer=ms(median(py)), target="<= 1.5x"))
        rows.append(row("jobcore run -q -- true, wall (p95)", ms(p95(jc)), "ms",
                        peer_name="python -c pass", peer=ms(p95(py)), target="<= 1.5x"))
        for peer_name, path in (("nq", nq), ("tsp", tsp)):
            if path:
                rows.append(row(f"jobcore run vs {peer_name} true (median)", ms(median(jc)),
                                "ms", peer_name=f"{peer_name} true",
                                peer=ms(median(times[peer_name]))))
            else:
                rows.append(row(f"jobcore run vs {peer_name} true (median)", ms(median(jc)),
                                "ms", peer_name=f"{peer_name} (not installed)",
                                note=f"{peer_name} not found on PATH"))
        heavy = _imports_of_run(home)
        rows.append(row("heavy modules imported by jobcore run", float(len(heavy)), "modules",
                        target="== 0", note=", ".join(heavy) or None))
    cli_us = [_importtime_total("import jobcore.cli") for _ in range(IMPORT_ROUNDS)]
    bare_us = [_importtime_total("pass") for _ in range(IMPORT_ROUNDS)]
    top = _heaviest_imports("import jobcore.cli")
    rows.append(row("import time: jobcore.cli + interpreter (-X importtime)",
                    ms(median(cli_us) / 1e6), "ms", peer_name="bare interpreter",
                    peer=ms(median(bare_us) / 1e6),
                    note="largest self times: " + ", ".join(f"{n} {t / 1000:.1f} ms"
                                                            for n, t in top)))
    return rows


def _history_rows() -> list[dict[str, Any]]:
    with temp_home() as empty, temp_home() as full:
        fill_seconds = fill_history(full, HISTORY_JOBS, name="nightly")
        runners = {
            "quiet, 0": _jobcore_runner(empty, "-q"),
            "quiet, 100k": _jobcore_runner(full, "-q"),
            "named, 0": _jobcore_runner(empty, "--name", "nightly"),
            "named, 100k": _jobcore_runner(full, "--name", "nightly"),
        }
        try:
            times = interleaved(runners, HISTORY_ROUNDS, warmup=1)
        finally:
            for runner in runners.values():
                runner.close()
    note = f"history of {HISTORY_JOBS:,} completed rows inserted in {fill_seconds:.2f} s"
    return [
        row("jobcore run -q latency, 100k jobs in history (median)",
            ms(median(times["quiet, 100k"])), "ms", peer_name="0 jobs in history",
            peer=ms(median(times["quiet, 0"])), target="flat, <= 1.2x", note=note),
        row("jobcore run --name (estimate) latency, 100k history (median)",
            ms(median(times["named, 100k"])), "ms", peer_name="0 jobs in history",
            peer=ms(median(times["named, 0"])), target="flat, <= 1.2x",
            note="not quiet: also looks up the estimate from earlier runs of the name"),
    ]


def run() -> list[dict[str, Any]]:
    return sections(_launch_rows, _history_rows)


if __name__ == "__main__":
    from benchmarks.run import table

    print(table(run()))
