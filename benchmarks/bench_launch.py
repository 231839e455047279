"""How long ``jobcore run`` keeps the user waiting, against the bare interpreter and peers.

- ``jobcore run -q -- true`` (the console script, as typed) against ``python -c pass`` in the
  same environment, and against ``nq true`` / ``tsp true`` when they are installed; all
  side by side, round-robin, each launched job waited for (untimed) before the next round.
- What the launch path imports: ``-X importtime`` totals of ``import jobcore.cli.main`` against
  the bare interpreter, and the heavy modules a ``run`` actually loads (should be none).
- ``jobcore run`` with 100,000 finished jobs in history against an empty history (flat).
- The figures of issue 12, each against ``python -c pass``, ``tsp`` and ``nq`` in one run: CPU
  per job of LOOP_JOBS ``run -q -- true`` in a loop (workers included), call → the command
  starts, and ``run`` of a job that only queues (its group is full).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks.common import (
    PYTHON,
    REPO,
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
    wait_until,
)

ROUNDS = 15
HISTORY_ROUNDS = 11
HISTORY_JOBS = 100_000
IMPORT_ROUNDS = 5
LOOP_JOBS = int(os.environ.get("JOBCORE_BENCH_LOOP", "1000"))
"""Launches in the CPU-per-job loop (the issue's figure is for 1,000)."""
START_ROUNDS = 15
START_TIMEOUT_S = 30
HEAVY = (
    "psutil",
    "textual",
    "rich",
    "aiosqlite",
    "watchfiles",
    "platformdirs",
    "argcomplete",
    "asyncio",
    "tqdm",
    "jobtui",
    "multiprocessing",
    "concurrent",
)


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


def _lone_runner(home: Path) -> Any:
    """A callable: ``jobcore run -q -- true`` with no dispatcher alive to hand it to (each is
    stopped first), as a lone launch after a quiet spell; it still starts one (0028)."""
    inner = _jobcore_runner(home, "-q")

    def once() -> float:
        for proc in psutil.process_iter(["cmdline"]):
            if (proc.info["cmdline"] or [])[-2:] == ["jobcore.ops.dispatcher", str(home)]:
                with contextlib.suppress(psutil.NoSuchProcess):  # one leaving by itself
                    proc.kill()
                    proc.wait(5)
        return float(inner())

    once.close = inner.close  # type: ignore[attr-defined]
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
        "from jobcore.cli.main import main\n"
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
        rows.append(
            row(
                "jobcore run -q -- true, wall (median)",
                ms(median(jc)),
                "ms",
                peer_name="python -c pass",
                peer=ms(median(py)),
                target="<= 1.5x",
            )
        )
        rows.append(
            row(
                "jobcore run -q -- true, wall (p95)",
                ms(p95(jc)),
                "ms",
                peer_name="python -c pass",
                peer=ms(p95(py)),
                target="<= 1.5x",
            )
        )
        lone = interleaved(
            {"jobcore": _lone_runner(home), "python -c pass": contenders["python -c pass"]},
            ROUNDS,
            warmup=2,
        )
        rows.append(
            row(
                "the same, no dispatcher alive (a lone launch), median",
                ms(median(lone["jobcore"])),
                "ms",
                peer_name="python -c pass",
                peer=ms(median(lone["python -c pass"])),
                note="handed off above; here launched by the command itself",
            )
        )
        for peer_name, path in (("nq", nq), ("tsp", tsp)):
            if path:
                rows.append(
                    row(
                        f"jobcore run vs {peer_name} true (median)",
                        ms(median(jc)),
                        "ms",
                        peer_name=f"{peer_name} true",
                        peer=ms(median(times[peer_name])),
                    )
                )
            else:
                rows.append(
                    row(
                        f"jobcore run vs {peer_name} true (median)",
                        ms(median(jc)),
                        "ms",
                        peer_name=f"{peer_name} (not installed)",
                        note=f"{peer_name} not found on PATH",
                    )
                )
        heavy = _imports_of_run(home)
        rows.append(
            row(
                "heavy modules imported by jobcore run",
                float(len(heavy)),
                "modules",
                target="== 0",
                note=", ".join(heavy) or None,
            )
        )
    cli_us = [_importtime_total("import jobcore.cli.main") for _ in range(IMPORT_ROUNDS)]
    bare_us = [_importtime_total("pass") for _ in range(IMPORT_ROUNDS)]
    top = _heaviest_imports("import jobcore.cli.main")
    rows.append(
        row(
            "import time: jobcore.cli.main + interpreter (-X importtime)",
            ms(median(cli_us) / 1e6),
            "ms",
            peer_name="bare interpreter",
            peer=ms(median(bare_us) / 1e6),
            note="largest self times: " + ", ".join(f"{n} {t / 1000:.1f} ms" for n, t in top),
        )
    )
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
        row(
            "jobcore run -q latency, 100k jobs in history (median)",
            ms(median(times["quiet, 100k"])),
            "ms",
            peer_name="0 jobs in history",
            peer=ms(median(times["quiet, 0"])),
            target="flat, <= 1.2x",
            note=note,
        ),
        row(
            "jobcore run --name (estimate) latency, 100k history (median)",
            ms(median(times["named, 100k"])),
            "ms",
            peer_name="0 jobs in history",
            peer=ms(median(times["named, 0"])),
            target="flat, <= 1.2x",
            note="not quiet: also looks up the estimate from earlier runs of the name",
        ),
    ]


class _Peers:
    """How to run ``tsp``/``nq`` privately in a scratch folder (None: not installed)."""

    def __init__(self, home: Path) -> None:
        scratch = home.parent
        self.nq, self.tsp = shutil.which("nq"), shutil.which("tsp")
        (scratch / "nq").mkdir(exist_ok=True)
        self.nq_env = env_for(home, NQDIR=str(scratch / "nq"))
        self.tsp_env = env_for(
            home, TS_SOCKET=str(scratch / "ts.sock"), TMPDIR=str(scratch), TS_MAXFINISHED="20000"
        )

    def argv(self, name: str, *command: str) -> list[str] | None:
        path = self.nq if name == "nq" else self.tsp
        return None if path is None else [path, *command]

    def env(self, name: str) -> dict[str, str]:
        return self.nq_env if name == "nq" else self.tsp_env

    def stop_tsp(self) -> None:
        if self.tsp:
            subprocess.run([self.tsp, "-K"], env=self.tsp_env, capture_output=True, check=False)


def _peer_note(values: dict[str, float | None], unit: str = "ms") -> str:
    return ", ".join(
        f"{name} {'not installed' if v is None else f'{v:.1f} {unit}'}"
        for name, v in values.items()
    )


def _loop_cpu(argv: list[str], env: dict[str, str], count: int, *drains: str) -> float:
    """CPU seconds per launch of ``argv`` run ``count`` times, detached descendants included."""
    extra = [part for cmd in drains for part in ("--drain", cmd)]
    proc = subprocess.run(
        [PYTHON, str(REPO / "benchmarks" / "loop_cpu.py"), str(count), *extra, "--", *argv],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return float(proc.stdout.strip().splitlines()[-1])


def _cpu_rows() -> list[dict[str, Any]]:
    """Issue 12: 1,000 ``jobcore run -q -- true`` in a loop, CPU per job (≤ 40 ms)."""
    with temp_home() as home:
        peers = _Peers(home)
        jobcore = _loop_cpu(jobcore_argv("run", "-q", "--", "true"), env_for(home), LOOP_JOBS)
        python = _loop_cpu([PYTHON, "-c", "pass"], env_for(home), LOOP_JOBS)
        others: dict[str, float | None] = {}
        for name in ("tsp", "nq"):
            argv = peers.argv(name, "true")
            drains = (f"{peers.tsp} -w", f"{peers.tsp} -K") if name == "tsp" else ()
            others[name] = (
                None if argv is None else ms(_loop_cpu(argv, peers.env(name), LOOP_JOBS, *drains))
            )
    return [
        row(
            f"{LOOP_JOBS:,} x jobcore run -q -- true in a loop: CPU per job (worker incl.)",
            ms(jobcore),
            "ms",
            peer_name="python -c pass",
            peer=ms(python),
            target="<= 40",
            note=_peer_note(others),
        )
    ]


def _fifo_start(argv: list[str], env: dict[str, str], fifo: Path) -> tuple[float, str]:
    """Seconds from the call of ``argv`` until its job opens ``fifo`` for writing; its stdout."""
    signal.alarm(START_TIMEOUT_S)  # a command that never starts fails the row, not the run
    try:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        fd = os.open(fifo, os.O_RDONLY)  # blocks until the command opens it
        elapsed = time.perf_counter() - start
        os.read(fd, 16)
        os.close(fd)
        out, _ = proc.communicate(timeout=START_TIMEOUT_S)
    finally:
        signal.alarm(0)
    return elapsed, out.decode().strip()


def _start_rows() -> list[dict[str, Any]]:
    """Issue 12: call → the command starts (median ≤ 2x ``python -c pass``)."""
    with temp_home() as home:
        peers = _Peers(home)
        fifos = {}
        for name in ("jobcore", "tsp", "nq"):  # one each: a late writer never fools another
            fifos[name] = home.parent / f"{name}.fifo"
            os.mkfifo(fifos[name])

        def command(name: str) -> list[str]:
            return ["sh", "-c", f"echo started > {fifos[name]}"]

        store_box: list[Any] = []

        def jobcore() -> float:
            elapsed, job_id = _fifo_start(
                jobcore_argv("run", "-q", "--", *command("jobcore")),
                env_for(home),
                fifos["jobcore"],
            )
            if not store_box:
                store_box.append(open_store(home))
            wait_job_finished(store_box[0], job_id, timeout=60)
            return elapsed

        contenders: dict[str, Any] = {
            "jobcore": jobcore,
            "python -c pass": _command_runner([PYTHON, "-c", "pass"], env_for(home)),
        }
        for name in ("tsp", "nq"):
            argv = peers.argv(name, *command(name))
            if argv is not None:
                contenders[name] = (lambda a, e, f: lambda: _fifo_start(a, e, f)[0])(
                    argv, peers.env(name), fifos[name]
                )
        try:
            times = interleaved(contenders, START_ROUNDS, warmup=2)
        finally:
            for store in store_box:
                store.close()
            peers.stop_tsp()
    others = {n: ms(median(times[n])) if n in times else None for n in ("tsp", "nq")}
    return [
        row(
            "call -> command starts (median)",
            ms(median(times["jobcore"])),
            "ms",
            peer_name="python -c pass",
            peer=ms(median(times["python -c pass"])),
            target="<= 2x",
            note=_peer_note(others),
        )
    ]


def _queue_only_rows() -> list[dict[str, Any]]:
    """Issue 12: ``run --group FULL`` of a job that only queues (≤ 2x ``python -c pass``)."""
    with temp_home() as home:
        peers = _Peers(home)
        env = env_for(home)
        subprocess.run(
            jobcore_argv("group", "add", "FULL", "--parallel", "1"),
            env=env,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            jobcore_argv("run", "-q", "--group", "FULL", "--", "sleep", "600"),
            env=env,
            check=True,
            capture_output=True,
        )
        contenders: dict[str, Any] = {
            "jobcore": _command_runner(
                jobcore_argv("run", "-q", "--group", "FULL", "--", "true"), env
            ),
            "python -c pass": _command_runner([PYTHON, "-c", "pass"], env),
        }
        for name in ("tsp", "nq"):
            blocker, argv = peers.argv(name, "sleep", "600"), peers.argv(name, "true")
            if blocker is not None and argv is not None:
                subprocess.run(blocker, env=peers.env(name), check=True, capture_output=True)
                contenders[name] = _command_runner(argv, peers.env(name))
        store = open_store(home)
        try:
            wait_until(
                lambda: any(j.status.value == "running" for j in store.list_jobs()), timeout=20
            )
            times = interleaved(contenders, START_ROUNDS, warmup=2)
        finally:
            store.close()
            peers.stop_tsp()
    others = {n: ms(median(times[n])) if n in times else None for n in ("tsp", "nq")}
    return [
        row(
            "jobcore run -q --group FULL -- true (only queues), median",
            ms(median(times["jobcore"])),
            "ms",
            peer_name="python -c pass",
            peer=ms(median(times["python -c pass"])),
            target="<= 2x",
            note=_peer_note(others),
        )
    ]


def run() -> list[dict[str, Any]]:
    return sections(_launch_rows, _start_rows, _queue_only_rows, _cpu_rows, _history_rows)


if __name__ == "__main__":
    from benchmarks.run import table

    print(table(run()))
