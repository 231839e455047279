"""Output throughput: a chatty command (200 MiB of 70-byte lines) as a job vs redirected.

The command is ``cat`` of a 1 MiB block of varied 70-byte lines, 200 times, timed by its own
shell (``date +%s%N`` before and after): as a job that is how long the command waited on the
worker to take its output (masking, with a secret to mask in the job's environment, and
progress parsing on), redirected to a file how long the disk took. The same script runs under
``tsp`` and ``nq`` when they are installed (each writes the output to a file). The worker's CPU
is sampled from /proc while the job runs. Rounds are interleaved; the output files are
deleted after each run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks.common import (
    env_for,
    jobcore_argv,
    median,
    open_store,
    row,
    sections,
    temp_home,
)

LINE = 70
BLOCK_LINES = 14_980
"""1 MiB (and a bit) of 70-byte lines."""
COPIES = int(os.environ.get("BENCH_OUTPUT_COPIES", "200"))
ROUNDS = int(os.environ.get("BENCH_OUTPUT_ROUNDS", "3"))
MB = 1_000_000
TARGET_MBPS = 100.0
_ELAPSED = re.compile(rb"elapsed_ns (\d+)")


def _block(path: Path) -> int:
    """Write the block of lines; returns its size."""
    words = b"build step compile link test ok done file path item value retry cache".split()
    lines = []
    for i in range(BLOCK_LINES):
        text = b"%07d %s" % (i, b" ".join(words[(i * k) % len(words)] for k in range(1, 12)))
        lines.append(text.ljust(LINE - 1)[: LINE - 1] + b"\n")
    data = b"".join(lines)
    path.write_bytes(data)
    return len(data)


def _script(block: Path) -> str:
    files = " ".join([str(block)] * COPIES)
    return (
        "start=$(date +%s%N); cat " + files + "; end=$(date +%s%N);"
        ' echo "elapsed_ns $((end - start))"'
    )


def _elapsed(path: Path) -> float:
    """The command's own run time, from the last line it wrote to ``path``."""
    with open(path, "rb") as fh:
        fh.seek(max(0, os.fstat(fh.fileno()).st_size - 4096))
        found = _ELAPSED.findall(fh.read())
    if not found:
        raise RuntimeError(f"no elapsed_ns line at the end of {path}")
    return int(found[-1]) / 1e9


def _as_job(home: Path, script: str) -> tuple[float, float]:
    """(the command's run time, the worker's CPU seconds) for one job."""
    env = env_for(home, BENCH_API_TOKEN="bench-secret-value-123")  # a value to mask
    proc = subprocess.run(
        jobcore_argv("run", "-q", "--", "sh", "-c", script),
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    )
    job_id = proc.stdout.decode().strip()
    cpu = 0.0
    with open_store(home) as store:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            job = store.get(job_id)
            if job.worker is not None:
                try:
                    times = psutil.Process(job.worker.pid).cpu_times()
                    cpu = max(cpu, times.user + times.system)
                except psutil.Error:
                    pass
            if job.status.is_final:
                break
            time.sleep(0.05)
        else:
            raise TimeoutError(f"job {job_id} did not finish")
        if job.status.value != "completed":
            raise RuntimeError(f"job {job_id} ended {job.status.value}: {job.reason}")
        log = store.state.log_path(job_id)
    elapsed = _elapsed(log)
    log.unlink()
    return elapsed, cpu


def _redirected(scratch: Path, script: str) -> float:
    out = scratch / "redirected.out"
    with open(out, "wb") as fh:
        subprocess.run(["sh", "-c", script], stdout=fh, stderr=subprocess.STDOUT, check=True)
    elapsed = _elapsed(out)
    out.unlink()
    return elapsed


def _tsp(tsp: str, env: dict[str, str], script: str) -> float:
    job = subprocess.run([tsp, "sh", "-c", script], env=env, capture_output=True, check=True)
    job_id = job.stdout.decode().strip()
    subprocess.run([tsp, "-w", job_id], env=env, capture_output=True, check=False)
    out = Path(
        subprocess.run([tsp, "-o", job_id], env=env, capture_output=True, check=True)
        .stdout.decode()
        .strip()
    )
    elapsed = _elapsed(out)
    out.unlink()
    return elapsed


def _nq(nq: str, env: dict[str, str], script: str) -> float:
    job = subprocess.run([nq, "sh", "-c", script], env=env, capture_output=True, check=True)
    out = Path(env["NQDIR"]) / job.stdout.decode().strip()
    subprocess.run([nq, "-w"], env=env, capture_output=True, check=False)
    elapsed = _elapsed(out)
    out.unlink()
    return elapsed


def _throughput() -> list[dict[str, Any]]:
    with temp_home("jcbench-output-") as home:
        scratch = home.parent / "scratch"
        scratch.mkdir()
        block = scratch / "lines.txt"
        total = _block(block) * COPIES
        script = _script(block)
        contenders: dict[str, Any] = {"job": lambda: _as_job(home, script)}
        contenders["redirect"] = lambda: (_redirected(scratch, script), 0.0)
        tsp, nq = shutil.which("tsp"), shutil.which("nq")
        tsp_env = env_for(home, TS_SOCKET=str(scratch / "ts.sock"), TMPDIR=str(scratch))
        if tsp:
            contenders["tsp"] = lambda: (_tsp(tsp, tsp_env, script), 0.0)
        if nq:
            (scratch / "nq").mkdir()
            nq_env = env_for(home, NQDIR=str(scratch / "nq"))
            contenders["nq"] = lambda: (_nq(nq, nq_env, script), 0.0)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
        try:
            for _ in range(ROUNDS):
                for name, run in contenders.items():
                    results[name].append(run())
        finally:
            if tsp:
                subprocess.run([tsp, "-K"], env=tsp_env, capture_output=True, check=False)
    mb = total / MB
    speed = {name: mb / median([t for t, _ in runs]) for name, runs in results.items()}
    job, redirect = speed["job"], speed["redirect"]
    ratio = job / redirect
    rows = [
        row(
            f"{mb:.0f} MB of {LINE}-byte lines: command's run time as a job (median of {ROUNDS})",
            job,
            "MB/s",
            peer_name="same command > file",
            peer=redirect,
            ratio=ratio,
            target=f">= {TARGET_MBPS:g} MB/s, or >= 0.5x of a slower disk",
            note="masking (a secret in the env) and progress parsing on",
        ),
    ]
    rows[0]["met"] = job >= TARGET_MBPS or (redirect < TARGET_MBPS and ratio >= 0.5)
    for peer in ("tsp", "nq"):
        if peer in speed:
            rows.append(
                row(
                    f"{mb:.0f} MB of {LINE}-byte lines: as a job vs under {peer}",
                    job,
                    "MB/s",
                    peer_name=peer,
                    peer=speed[peer],
                    ratio=job / speed[peer],
                )
            )
    cpu = median([c for _, c in results["job"]])
    rows.append(
        row(
            "worker CPU per MB of output (sampled from /proc)",
            cpu * 1000 / mb,
            "ms/MB",
            note=f"{cpu:.2f} s of CPU for {mb:.0f} MB",
        )
    )
    return rows


def run() -> list[dict[str, Any]]:
    return sections(_throughput)
