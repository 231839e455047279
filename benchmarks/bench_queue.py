"""How fast a queue hands a freed slot to the next job, and what queueing adds to a launch.

- Slot to start: a group with ``--parallel 1`` and a gate job holding its slot; ``CHAIN``
  jobs are queued behind it (their workers up and waiting), then the gate opens. Each job is
  ``bash -c`` writing ``$EPOCHREALTIME`` (a builtin: no fork) at its start and at its end to
  a file; the gap from one job's end to the next one's start is the slot-to-start latency
  (p50/p95 over ``CHAINS`` chains). The same gaps from the database (finished_at to the next
  started_at) are in the note.
- Launch: ``jobcore run -q --group free`` (a group with a free slot) against plain
  ``jobcore run -q``, side by side: the CLI call's wall time, and the time from the call to the
  command running (its first ``$EPOCHREALTIME``).
"""

from __future__ import annotations

import itertools
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
    p95,
    row,
    sections,
    temp_home,
    time_once,
    wait_job_finished,
    wait_until,
)

CHAIN = 20
CHAINS = 2
LAUNCH_ROUNDS = 15
GROUP = "chain"
FREE_GROUP = "free"

_STAMP = 'echo "$1 start ${EPOCHREALTIME/,/.}" >> "$2"; echo "$1 end ${EPOCHREALTIME/,/.}" >> "$2"'
_GATE = ('while [ ! -e "$3" ]; do sleep 0.005; done;'
         ' echo "$1 end ${EPOCHREALTIME/,/.}" >> "$2"')


def _jobcore(env: dict[str, str], *args: str) -> str:
    """Run ``jobcore ARGS`` (must exit 0); its stdout, stripped."""
    return time_once(jobcore_argv(*args), env=env)[1].stdout.decode().strip()


def _read_stamps(path: Path) -> dict[str, dict[str, float]]:
    stamps: dict[str, dict[str, float]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        label, what, value = line.split()
        stamps.setdefault(label, {})[what] = float(value)
    return stamps


def _one_chain(home: Path, env: dict[str, str], chain_no: int) -> dict[str, list[float]]:
    """Per pair of jobs in line (seconds): ``gap`` from one's end to the next one's start
    (stamps), ``db`` finished_at to the next started_at, ``end`` the command's last stamp to
    its finished_at, ``start`` started_at to the next command's first stamp."""
    folder = home.parent / f"chain-{chain_no}"
    folder.mkdir()
    record, gate = folder / "stamps.txt", folder / "gate"
    ids = [_jobcore(env, "run", "-q", "--group", GROUP, "--", "bash", "-c", _GATE, "_", "gate",
                    str(record), str(gate))]
    for i in range(CHAIN):
        ids.append(_jobcore(env, "run", "-q", "--group", GROUP, "--", "bash", "-c", _STAMP, "_",
                            f"job{i:03d}", str(record)))
    with open_store(home) as store:
        def all_waiting() -> bool:
            rows = store.conn.execute(
                "SELECT COUNT(*) FROM jobs WHERE grp = ? AND status = 'queued'"
                " AND waiting_on = 'slot'", (GROUP,)).fetchone()
            return rows[0] == CHAIN

        wait_until(all_waiting, timeout=60)
        gate.touch()
        for job_id in ids:
            wait_job_finished(store, job_id, timeout=60)
        jobs = [store.get(job_id) for job_id in ids]
    bad = [j for j in jobs if j.status.value != "completed"]
    if bad:
        raise RuntimeError(f"job {bad[0].id} ended {bad[0].status.value}: {bad[0].reason}")
    stamps = _read_stamps(record)
    labels = ["gate", *(f"job{i:03d}" for i in range(CHAIN))]
    order = sorted(labels[1:], key=lambda label: stamps[label]["start"])
    if order != labels[1:]:
        raise RuntimeError(f"queued jobs started out of line: {order}")
    parts: dict[str, list[float]] = {"gap": [], "db": [], "end": [], "start": []}
    for (a, b), (job_a, job_b) in zip(
        itertools.pairwise(labels), itertools.pairwise(jobs), strict=True
    ):
        parts["gap"].append(stamps[b]["start"] - stamps[a]["end"])
        parts["db"].append(job_b.started_at - job_a.finished_at)
        parts["end"].append(job_a.finished_at - stamps[a]["end"])
        parts["start"].append(stamps[b]["start"] - job_b.started_at)
    return parts


def _slot_rows() -> list[dict[str, Any]]:
    parts: dict[str, list[float]] = {"gap": [], "db": [], "end": [], "start": []}
    with temp_home() as home:
        env = env_for(home)
        _jobcore(env, "group", "add", GROUP, "--parallel", "1")
        for chain_no in range(CHAINS):
            for key, values in _one_chain(home, env, chain_no).items():
                parts[key].extend(values)
    gaps = parts["gap"]

    def mp(key: str) -> str:
        return f"{ms(median(parts[key])):.1f}/{ms(p95(parts[key])):.1f} ms"

    note = (f"{CHAINS} chains of {CHAIN} bash jobs in a --parallel 1 group, {len(gaps)} gaps;"
            f" median/p95 of the parts: command end -> its finished_at {mp('end')},"
            f" finished_at -> next started_at {mp('db')}, started_at -> next command's first"
            f" stamp {mp('start')}")
    return [
        row("queue: slot freed -> next job's command starts (p50)", ms(median(gaps)), "ms",
            note=note),
        row("queue: slot freed -> next job's command starts (p95)", ms(p95(gaps)), "ms",
            target="< 100", note=f"worst {ms(max(gaps)):.1f} ms"),
    ]


class _Launch:
    """One timed ``jobcore run -q [--group G] -- bash ...``: the CLI's wall time, and the time
    from the call to the command's first stamp; then (untimed) waits for the job."""

    def __init__(self, home: Path, *extra: str) -> None:
        self.home = home
        self.env = env_for(home)
        self.extra = extra
        self.store: Any = None
        self.to_command: list[float] = []
        self.count = 0

    def __call__(self) -> float:
        self.count += 1
        stamp = self.home.parent / f"launch-{'-'.join(self.extra) or 'plain'}-{self.count}"
        argv = jobcore_argv("run", "-q", *self.extra, "--", "bash", "-c",
                            'echo "${EPOCHREALTIME/,/.}" > "$1"', "stamp", str(stamp))
        called = time.time()
        elapsed, proc = time_once(argv, env=self.env)
        job_id = proc.stdout.decode().strip()
        if self.store is None:
            self.store = open_store(self.home)
        wait_job_finished(self.store, job_id, timeout=30)
        self.to_command.append(float(stamp.read_text(encoding="utf-8")) - called)
        return elapsed

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


def _launch_rows() -> list[dict[str, Any]]:
    with temp_home() as home:
        _jobcore(env_for(home), "group", "add", FREE_GROUP, "--parallel", "4")
        runners = {"queued": _Launch(home, "--group", FREE_GROUP), "plain": _Launch(home)}
        try:
            times = interleaved(runners, LAUNCH_ROUNDS, warmup=2)
        finally:
            for runner in runners.values():
                runner.close()
    queued, plain = times["queued"], times["plain"]
    q_cmd, p_cmd = runners["queued"].to_command[2:], runners["plain"].to_command[2:]
    peer = "jobcore run -q (no group)"
    note = f"{LAUNCH_ROUNDS} rounds side by side; --group {FREE_GROUP} has --parallel 4, all free"
    return [
        row(f"jobcore run -q --group {FREE_GROUP} (free slot), CLI wall (median)",
            ms(median(queued)), "ms", peer_name=peer, peer=ms(median(plain)), note=note),
        row(f"jobcore run -q --group {FREE_GROUP} (free slot), CLI wall (p95)",
            ms(p95(queued)), "ms", peer_name=peer, peer=ms(p95(plain))),
        row("launch -> command running, queued into a free slot (median)",
            ms(median(q_cmd)), "ms", peer_name=peer, peer=ms(median(p_cmd)),
            note="from the CLI call to the command's first $EPOCHREALTIME"),
        row("launch -> command running, queued into a free slot (p95)",
            ms(p95(q_cmd)), "ms", peer_name=peer, peer=ms(p95(p_cmd))),
    ]


def run() -> list[dict[str, Any]]:
    return sections(_slot_rows, _launch_rows)


if __name__ == "__main__":
    from benchmarks.run import table

    print(table(run()))
