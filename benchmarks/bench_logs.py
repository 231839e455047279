"""``jobcore logs -n 100`` on a 1 GiB log against a 1 MiB log: the cost must not grow.

The big log is a real file of lines (a 1 MiB block of numbered lines written 1,024 times,
the last block with its own line numbers), deleted with the state folder afterwards. The
command is timed as a user runs it, side by side on both jobs; ``tail -n 100`` on the same
file and the in-process ``jobcore.state.logs.tail`` are reported for context.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    env_for,
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

MIB = 1024 * 1024
BIG_MIB = 1024
LINES = 100
ROUNDS = 11
INPROC_ROUNDS = 21


def _block(tag: str) -> bytes:
    """About 1 MiB of numbered log lines."""
    lines = []
    size = 0
    i = 0
    while size < MIB:
        line = f"{tag} {i:07d} processed item {i * 7919 % 100_003:06d}: ok (0.0{i % 97:02d} s)\n"
        lines.append(line)
        size += len(line)
        i += 1
    return "".join(lines).encode()


def _make_job(home: Path, mib: int) -> tuple[str, Path]:
    """A completed job whose log holds ``mib`` MiB of lines; returns (id, log path)."""
    with open_store(home) as store:
        job = store.create_job(["./produce-output"], "/tmp", {}, f"log-{mib}MiB")
        with store.write() as conn:  # finished: nothing should try to run it
            conn.execute(
                "UPDATE jobs SET status = 'completed', started_at = ?, finished_at = ?,"
                " exit_code = 0 WHERE id = ?",
                (time.time() - 60, time.time(), job.id),
            )
        store.state.make_job_dir(job.id)
        path = store.state.log_path(job.id)
    block = _block("bulk")
    with open(path, "wb") as fh:
        for _ in range(mib - 1):
            fh.write(block)
        fh.write(_block("last"))
    return job.id, path


def _expected_tail(path: Path) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(-64 * 1024, os.SEEK_END)
        return b"".join(fh.read().splitlines(keepends=True)[-LINES:])


def _cli_rows(
    home: Path, big: tuple[str, Path], small: tuple[str, Path], made: float
) -> list[dict[str, Any]]:
    (big_id, big_path), (small_id, small_path) = big, small
    env = env_for(home)
    expected = {big_id: _expected_tail(big_path), small_id: _expected_tail(small_path)}

    def logs(job_id: str) -> Any:
        def once() -> float:
            elapsed, proc = time_once(jobcore_argv("logs", "-n", str(LINES), job_id), env=env)
            if proc.stdout != expected[job_id]:
                raise AssertionError(f"jobcore logs -n {LINES} printed the wrong lines")
            return elapsed

        return once

    contenders = {"big": logs(big_id), "small": logs(small_id)}
    tail_bin = shutil.which("tail")
    if tail_bin:
        contenders["tail"] = lambda: time_once([tail_bin, "-n", str(LINES), str(big_path)])[0]
    times = interleaved(contenders, ROUNDS, warmup=1)
    size_gib = big_path.stat().st_size / MIB / 1024
    rows = [
        row(
            f"jobcore logs -n {LINES}: {size_gib:.2f} GiB log vs 1 MiB (median)",
            ms(median(times["big"])),
            "ms",
            peer_name="same on a 1 MiB log",
            peer=ms(median(times["small"])),
            target="<= 1.2x",
            note=f"1 GiB log written in {made:.1f} s",
        ),
    ]
    if "tail" in times:
        rows.append(
            row(
                f"jobcore logs -n {LINES} on 1 GiB vs coreutils tail (median)",
                ms(median(times["big"])),
                "ms",
                peer_name=f"tail -n {LINES}",
                peer=ms(median(times["tail"])),
            )
        )
    return rows


def _inprocess_rows(big_path: Path, small_path: Path) -> list[dict[str, Any]]:
    from jobcore.state.logs import tail

    def timed(path: Path) -> Any:
        def once() -> float:
            start = time.perf_counter()
            tail(path, LINES)
            return time.perf_counter() - start

        return once

    times = interleaved(
        {"big": timed(big_path), "small": timed(small_path)}, INPROC_ROUNDS, warmup=2
    )
    return [
        row(
            f"in-process jobcore.state.logs.tail({LINES}): 1 GiB vs 1 MiB",
            median(times["big"]) * 1e6,
            "µs",
            peer_name="same on a 1 MiB log",
            peer=median(times["small"]) * 1e6,
            target="<= 1.2x",
        ),
    ]


def run() -> list[dict[str, Any]]:
    with temp_home() as home:
        start = time.perf_counter()
        big = _make_job(home, BIG_MIB)
        made = time.perf_counter() - start
        small = _make_job(home, 1)

        def cli_rows() -> list[dict[str, Any]]:
            return _cli_rows(home, big, small, made)

        def inprocess_rows() -> list[dict[str, Any]]:
            return _inprocess_rows(big[1], small[1])

        return sections(cli_rows, inprocess_rows)


if __name__ == "__main__":
    from benchmarks.run import table

    print(table(run()))
