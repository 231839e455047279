"""What a queue costs while jobs wait, how fast it drains, how fast it hands a freed slot on.

Side by side with ``tsp`` (task-spooler, ``-S 1``) and ``nq`` in the same run, where installed:

- Waiting: one long job runs in a queue of one slot and ``WAITING`` jobs wait behind it. The
  tool's processes beyond the running job (its command, and for jobcore its worker): how
  many, their memory (RSS and PSS) and their CPU over ``CPU_WINDOW_S``.
- Drain: ``WAITING`` ``true`` jobs queued behind a gate job in a queue of one slot; the gate
  opens; wall time until the last one ended, per job.

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
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks.common import (
    env_for,
    interleaved,
    jobcore_argv,
    kill_all_of,
    median,
    ms,
    open_store,
    p95,
    processes_of,
    row,
    sections,
    temp_home,
    time_once,
    wait_job_finished,
    wait_until,
)

CHAIN = 20
CHAINS = 2
WAITING = 200
CPU_WINDOW_S = 20.0
LAUNCH_ROUNDS = 15
GROUP = "chain"
FREE_GROUP = "free"

_STAMP = 'echo "$1 start ${EPOCHREALTIME/,/.}" >> "$2"; echo "$1 end ${EPOCHREALTIME/,/.}" >> "$2"'
_GATE = 'while [ ! -e "$3" ]; do sleep 0.005; done; echo "$1 end ${EPOCHREALTIME/,/.}" >> "$2"'


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
    ids = [
        _jobcore(
            env,
            "run",
            "-q",
            "--group",
            GROUP,
            "--",
            "bash",
            "-c",
            _GATE,
            "_",
            "gate",
            str(record),
            str(gate),
        )
    ]
    for i in range(CHAIN):
        ids.append(
            _jobcore(
                env,
                "run",
                "-q",
                "--group",
                GROUP,
                "--",
                "bash",
                "-c",
                _STAMP,
                "_",
                f"job{i:03d}",
                str(record),
            )
        )
    with open_store(home) as store:

        def all_waiting() -> bool:
            rows = store.conn.execute(
                "SELECT COUNT(*) FROM jobs WHERE grp = ? AND status = 'queued'"
                " AND waiting_on = 'slot'",
                (GROUP,),
            ).fetchone()
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

    note = (
        f"{CHAINS} chains of {CHAIN} bash jobs in a --parallel 1 group, {len(gaps)} gaps;"
        f" median/p95 of the parts: command end -> its finished_at {mp('end')},"
        f" finished_at -> next started_at {mp('db')}, started_at -> next command's first"
        f" stamp {mp('start')}"
    )
    return [
        row(
            "queue: slot freed -> next job's command starts (p50)",
            ms(median(gaps)),
            "ms",
            note=note,
        ),
        row(
            "queue: slot freed -> next job's command starts (p95)",
            ms(p95(gaps)),
            "ms",
            target="<= 20",
            note=f"worst {ms(max(gaps)):.1f} ms; {_peer_chain_note()}",
        ),
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
        argv = jobcore_argv(
            "run",
            "-q",
            *self.extra,
            "--",
            "bash",
            "-c",
            'echo "${EPOCHREALTIME/,/.}" > "$1"',
            "stamp",
            str(stamp),
        )
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
        row(
            f"jobcore run -q --group {FREE_GROUP} (free slot), CLI wall (median)",
            ms(median(queued)),
            "ms",
            peer_name=peer,
            peer=ms(median(plain)),
            note=note,
        ),
        row(
            f"jobcore run -q --group {FREE_GROUP} (free slot), CLI wall (p95)",
            ms(p95(queued)),
            "ms",
            peer_name=peer,
            peer=ms(p95(plain)),
        ),
        row(
            "launch -> command running, queued into a free slot (median)",
            ms(median(q_cmd)),
            "ms",
            peer_name=peer,
            peer=ms(median(p_cmd)),
            note="from the CLI call to the command's first $EPOCHREALTIME",
        ),
        row(
            "launch -> command running, queued into a free slot (p95)",
            ms(p95(q_cmd)),
            "ms",
            peer_name=peer,
            peer=ms(p95(p_cmd)),
        ),
    ]


class _Queue:
    """One tool's queue of one slot in a scratch folder: submit commands, wait, list processes.

    ``marker`` is what its processes carry in their argv or environment (the state folder,
    tsp's socket, nq's folder); ``running`` tells the running job's own processes apart."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.last = ""
        if name == "jobcore":
            self.marker = str(folder / "state")
            self.env = env_for(folder / "state")
            _jobcore(self.env, "group", "add", "one", "--parallel", "1")
        elif name == "tsp":
            self.marker = str(folder / "ts.sock")
            self.env = env_for(None, TS_SOCKET=self.marker, TMPDIR=str(folder))
            subprocess.run(["tsp", "-S", "1"], env=self.env, capture_output=True, check=True)
        else:
            self.marker = str(folder / "nq")
            self.env = env_for(None, NQDIR=self.marker)

    def submit(self, *argv: str) -> str:
        if self.name == "jobcore":
            self.last = _jobcore(self.env, "run", "-q", "--group", "one", "--", *argv)
        else:
            tool = ["nq", "-q"] if self.name == "nq" else ["tsp"]
            self.last = time_once([*tool, *argv], env=self.env)[1].stdout.decode().strip()
        return self.last

    def wait_all(self, timeout: float = 600) -> None:
        if self.name == "jobcore":
            with open_store(Path(self.marker)) as store:
                wait_until(lambda: not store.active_jobs(), timeout=timeout, interval=0.005)
        elif self.name == "tsp":
            subprocess.run(
                ["tsp", "-w", self.last],
                env=self.env,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        else:
            subprocess.run(
                ["nq", "-w"], env=self.env, capture_output=True, timeout=timeout, check=False
            )

    def waiting_settled(self, count: int) -> None:
        """jobcore: until the ``count`` queued jobs have been looked at (waiting on a slot)."""
        if self.name != "jobcore":
            return
        with open_store(Path(self.marker)) as store:
            wait_until(
                lambda: (
                    store.conn.execute(
                        "SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND waiting_on = 'slot'"
                    ).fetchone()[0]
                    >= count
                ),
                timeout=120,
                interval=0.05,
            )

    def beyond_running(self) -> list[psutil.Process]:
        """The tool's processes but the running job's command (and its jobcore worker)."""
        running = set()
        if self.name == "jobcore":
            with open_store(Path(self.marker)) as store:
                running = {j.worker.pid for j in store.list_jobs(["running"]) if j.worker}
        found = []
        for proc in processes_of(self.marker):
            try:
                if proc.name() == "sleep" or proc.pid in running:
                    continue
                found.append(proc)
            except psutil.Error:
                continue
        return found

    def close(self) -> None:
        if self.name == "tsp":
            subprocess.run(["tsp", "-K"], env=self.env, capture_output=True, check=False)


def _tools() -> list[str]:
    return ["jobcore", *(name for name in ("tsp", "nq") if shutil.which(name))]


def _cpu_seconds(procs: list[psutil.Process]) -> dict[int, float]:
    times = {}
    for proc in procs:
        try:
            t = proc.cpu_times()
            times[proc.pid] = t.user + t.system
        except psutil.Error:
            continue
    return times


def _memory(procs: list[psutil.Process]) -> tuple[float, float]:
    """Summed RSS and PSS in MB."""
    rss = pss = 0.0
    for proc in procs:
        try:
            info = proc.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss / 1e6, pss / 1e6


def _waiting_figures(name: str, root: Path) -> dict[str, float]:
    queue = _Queue(name, root / name)
    try:
        queue.submit("sleep", "600")
        for _ in range(WAITING):
            queue.submit("true")
        queue.waiting_settled(WAITING)
        time.sleep(1.0)  # whatever starts on a submit has settled
        procs = queue.beyond_running()
        rss, pss = _memory(procs)
        before = _cpu_seconds(procs)
        time.sleep(CPU_WINDOW_S)
        after = _cpu_seconds(procs)
        cpu = sum(after[pid] - before[pid] for pid in after if pid in before)
        return {"procs": len(procs), "rss": rss, "pss": pss, "cpu": 100 * cpu / CPU_WINDOW_S}
    finally:
        queue.close()
        kill_tree_of(queue)


def kill_tree_of(queue: _Queue) -> None:
    """Every process of one tool's queue (the scratch folder is removed by temp_home)."""
    kill_all_of(queue.marker)


def _drain_seconds(name: str, root: Path) -> float:
    """Per job: WAITING ``true`` jobs behind a gate in a queue of one slot, gate opened."""
    queue = _Queue(name, root / f"drain-{name}")
    gate = root / f"gate-{name}"
    try:
        queue.submit("sh", "-c", f'while [ ! -e "{gate}" ]; do sleep 0.005; done')
        for _ in range(WAITING):
            queue.submit("true")
        queue.waiting_settled(WAITING)
        started = time.perf_counter()
        gate.touch()
        queue.wait_all()
        return (time.perf_counter() - started) / WAITING
    finally:
        queue.close()
        kill_tree_of(queue)


def _waiting_rows() -> list[dict[str, Any]]:
    figures: dict[str, dict[str, float]] = {}
    with temp_home() as home:
        for name in _tools():
            figures[name] = _waiting_figures(name, home.parent)
    return _side_by_side(
        figures,
        [
            ("procs", f"{WAITING} jobs waiting: tool processes beyond the running job", "", "<= 1"),
            ("rss", f"{WAITING} jobs waiting: their memory (RSS)", "MB", "<= 60"),
            ("pss", f"{WAITING} jobs waiting: their memory (PSS)", "MB", ""),
            (
                "cpu",
                f"{WAITING} jobs waiting: their CPU over {CPU_WINDOW_S:g} s",
                "% of a core",
                "<= 1",
            ),
        ],
    )


def _drain_rows() -> list[dict[str, Any]]:
    figures: dict[str, dict[str, float]] = {}
    with temp_home() as home:
        for name in _tools():
            figures[name] = {"drain": ms(_drain_seconds(name, home.parent))}
    return _side_by_side(
        figures,
        [
            (
                "drain",
                f"{WAITING} queued `true` jobs draining through one slot, per job",
                "ms",
                "<= 15",
            ),
        ],
    )


def _side_by_side(
    figures: dict[str, dict[str, float]], wanted: list[tuple[str, str, str, str]]
) -> list[dict[str, Any]]:
    """Rows with tsp as the peer and nq in the note (or "not installed")."""
    rows = []
    for key, figure, unit, target in wanted:
        tsp = figures.get("tsp", {}).get(key)
        nq = figures.get("nq", {}).get(key)
        note = "nq: " + ("not installed" if nq is None else f"{nq:.1f} {unit}".strip())
        if tsp is None:
            note += "; tsp: not installed"
        rows.append(
            row(
                figure,
                figures["jobcore"][key],
                unit,
                peer_name="tsp",
                peer=tsp,
                target=target,
                note=note,
            )
        )
    return rows


def _peer_chain(name: str, root: Path) -> list[float]:
    """Slot freed -> next command starts, from the same bash stamps, for tsp or nq."""
    queue = _Queue(name, root / f"chain-{name}")
    record, gate = root / f"stamps-{name}.txt", root / f"gate-chain-{name}"
    try:
        queue.submit("bash", "-c", _GATE, "_", "gate", str(record), str(gate))
        for i in range(CHAIN):
            queue.submit("bash", "-c", _STAMP, "_", f"job{i:03d}", str(record))
        gate.touch()
        queue.wait_all()
    finally:
        queue.close()
        kill_tree_of(queue)
    stamps = _read_stamps(record)
    labels = ["gate", *(f"job{i:03d}" for i in range(CHAIN))]
    return [stamps[b]["start"] - stamps[a]["end"] for a, b in itertools.pairwise(labels)]


def _peer_chain_note() -> str:
    parts = []
    with temp_home() as home:
        for name in ("tsp", "nq"):
            if not shutil.which(name):
                parts.append(f"{name}: not installed")
                continue
            gaps = [g for _ in range(CHAINS) for g in _peer_chain(name, home.parent)]
            parts.append(f"{name} p50/p95 {ms(median(gaps)):.1f}/{ms(p95(gaps)):.1f} ms")
    return ", ".join(parts)


def run() -> list[dict[str, Any]]:
    return sections(_waiting_rows, _drain_rows, _slot_rows, _launch_rows)


if __name__ == "__main__":
    from benchmarks.run import table

    print(table(run()))
