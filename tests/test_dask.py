"""Batches on a Dask cluster: a real ``dask scheduler`` and two ``dask worker`` processes on
127.0.0.1, shared by the module; the real CLI launches, stops, resumes and shows the jobs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import CLI, wait_for

pytest.importorskip("distributed", reason="Dask is not installed: pip install 'jobcore[dask]'")

ON_WORKER = "JOBCORE_TEST_ON_DASK_WORKER"
"""Set in the Dask workers' environment only: a module can tell it is imported there."""


class DaskCluster:
    """A scheduler and its workers, each a process of its own session, killed at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[subprocess.Popen[bytes]] = []
        sched_file = folder / "scheduler.json"
        self.scheduler = self._start(
            "scheduler",
            ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
            ["--scheduler-file", str(sched_file)],
        )
        wait_for(lambda: sched_file.exists() and sched_file.stat().st_size > 0, 30)
        self.address: str = json.loads(sched_file.read_text())["address"]
        self.workers: list[subprocess.Popen[bytes]] = []
        for _ in range(2):
            self.add_worker()
        self.wait_workers(2)

    def _start(self, name: str, args: list[str], extra: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}-{len(self.procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "dask", *args, *extra],
            cwd=self.folder,
            env={**os.environ, ON_WORKER: "1"},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def add_worker(self) -> subprocess.Popen[bytes]:
        """One more worker, one thread, no nanny (a kill of it is a kill of the worker)."""
        worker = self._start(
            "worker",
            ["worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard"],
            [],
        )
        self.workers.append(worker)
        return worker

    def wait_workers(self, n: int) -> None:
        """Until the scheduler counts ``n`` workers (asked with the Dask client)."""
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(n, timeout=60)
            wait_for(lambda: len(client.scheduler_info()["workers"]) == n, 30)

    def live_workers(self) -> list[subprocess.Popen[bytes]]:
        return [w for w in self.workers if w.poll() is None]

    def item_processes(self) -> list[str]:
        """The command line of every live process under a live Dask worker: the items it
        runs (it runs nothing else)."""
        found = []
        for worker in self.live_workers():
            with contextlib.suppress(psutil.Error):
                for proc in psutil.Process(worker.pid).children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        if proc.status() != psutil.STATUS_ZOMBIE:
                            found.append(" ".join(proc.cmdline()))
        return found

    def close(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    folder = tmp_path_factory.mktemp("dask")
    cluster = None
    try:
        cluster = DaskCluster(folder)
        yield cluster
    finally:
        if cluster is not None:
            cluster.close()


def _items(tmp_path: Path, items: list[str]) -> Path:
    path = tmp_path / "items.txt"
    path.write_text("".join(f"{i}\n" for i in items), encoding="utf-8")
    return path


def _item_rows(home: Path, job_id: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(home / "jobcore.db")
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(
            "SELECT item, status, attempts FROM items WHERE job_id = ? ORDER BY idx", (job_id,)
        ).fetchall()
    finally:
        conn.close()


def test_a_200_item_shell_batch_runs_every_item_exactly_once(
    cli: CLI, home: Path, tmp_path: Path, dask_cluster: DaskCluster
) -> None:
    """The default cluster from ``config set cluster``; items spread over both workers."""
    cli("config", "set", "cluster", dask_cluster.address)
    items = [f"item-{n}" for n in range(200)]
    runs = tmp_path / "runs.txt"
    job_id = cli.run(
        "sh",
        "-c",
        f'echo "ran $0"; echo "$0" >> {runs}',
        "{}",
        opts=("--each", str(_items(tmp_path, items)), "-j", "4"),
    )
    data = cli.wait_status(job_id, {"completed", "failed"}, timeout=60)
    assert data["status"] == "completed", data
    assert sorted(runs.read_text().split()) == sorted(items)
    rows = _item_rows(home, job_id)
    assert [r["status"] for r in rows] == ["done"] * 200
    assert {r["attempts"] for r in rows} == {1}
    where = data["cluster"]
    assert where["address"] == dask_cluster.address
    assert sum(w["ran"] for w in where["workers"].values()) == 200
    assert len(where["workers"]) == 2
    log = cli("logs", "--item", "item-7", job_id).stdout
    assert log.strip() == "ran item-7"
    shown = cli("show", job_id).stdout
    assert f"cluster  {dask_cluster.address} (" in shown


def test_a_call_batch_runs_on_the_workers(
    cli: CLI, home: Path, tmp_path: Path, dask_cluster: DaskCluster
) -> None:
    """``jobcore.submit(..., cluster=...)``: results, printed lines and a failure come back."""
    (tmp_path / "dasktask.py").write_text(
        "import os\n"
        "def work(item):\n"
        f"    print('on a worker' if os.environ.get('{ON_WORKER}') else 'here', item)\n"
        "    if item == 'bad':\n"
        "        raise ValueError('bad item')\n"
        "    return len(item)\n",
        encoding="utf-8",
    )
    code = (
        "import jobcore, sys\n"
        "print(jobcore.submit('dasktask:work', ['a', 'bb', 'bad', 'cccc'], parallel=2,"
        f" cwd={str(tmp_path)!r}, cluster={dask_cluster.address!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    job_id = out.stdout.strip()
    data = cli.wait_status(job_id, {"completed", "failed"}, timeout=60)
    assert data["status"] == "failed" and data["reason"] == "1 of 4 items failed"
    assert [f["error"] for f in data["failed_items"]] == ["ValueError: bad item"]
    log = cli("logs", job_id).stdout
    for item in ("a", "bb", "cccc"):
        assert f"[{item}] on a worker {item}" in log
    assert "[bad] ValueError: bad item" in log
    conn = sqlite3.connect(home / "jobcore.db")
    results = dict(conn.execute("SELECT item, result FROM items WHERE job_id = ?", (job_id,)))
    conn.close()
    assert results["cccc"] == "4" and results["bb"] == "2"


def test_a_call_target_not_importable_on_the_workers_is_said_so(
    cli: CLI, tmp_path: Path, dask_cluster: DaskCluster
) -> None:
    (tmp_path / "gpuonly.py").write_text(
        "import os\n"
        f"if os.environ.get('{ON_WORKER}'):\n"
        "    import not_on_the_workers  # noqa\n"
        "def work(item):\n"
        "    return item\n",
        encoding="utf-8",
    )
    job_id = cli(
        "run",
        "-q",
        "--each",
        str(_items(tmp_path, ["x"])),
        "--cwd",
        str(tmp_path),
        "--cluster",
        dask_cluster.address,
        "--call",
        "gpuonly:work",
    ).stdout.strip()
    data = cli.wait_status(job_id, {"completed", "failed"}, timeout=60)
    assert data["status"] == "failed"
    assert "not_on_the_workers" in data["reason"]
    assert "importable there" in data["reason"] and "Dask worker tcp://" in data["reason"]


def test_stop_mid_batch_leaves_no_item_on_any_worker_and_resume_finishes(
    cli: CLI, home: Path, tmp_path: Path, dask_cluster: DaskCluster
) -> None:
    """Items that ignore SIGTERM and leave a grandchild: the grace, then SIGKILL, on the
    workers themselves; nothing of the job runs anywhere after the stop."""
    go = tmp_path / "go"
    script = (
        f'[ -e {go} ] && exit 0; trap "echo term ignored" TERM; echo started; '
        "sleep 60 & while :; do sleep 0.1; done"
    )
    items = [f"i{n}" for n in range(6)]
    job_id = cli.run(
        "sh",
        "-c",
        script,
        "{}",
        opts=("--each", str(_items(tmp_path, items)), "-j", "2", "--cluster", dask_cluster.address),
    )
    wait_for(lambda: len(cli.show(job_id)["running_items"]) == 2, 60)
    wait_for(lambda: dask_cluster.item_processes().count("sleep 60") == 2, 30)
    cli("stop", "--grace", "1", job_id)
    data = cli.show(job_id)
    assert data["status"] == "paused", data
    assert dask_cluster.item_processes() == []
    assert data["items"] == {"pending": 6, "running": 0, "done": 0, "failed": 0}
    assert {r["attempts"] for r in _item_rows(home, job_id)} == {0}
    assert "term ignored" in cli("logs", job_id).stdout  # their last words, still logged
    go.touch()
    cli("resume", job_id)
    data = cli.wait_status(job_id, {"completed", "failed"}, timeout=60)
    assert data["status"] == "completed", data
    assert data["items"]["done"] == 6


def test_a_dask_worker_killed_mid_batch_loses_no_item_and_does_none_twice(
    cli: CLI, home: Path, tmp_path: Path, dask_cluster: DaskCluster
) -> None:
    runs = tmp_path / "runs.txt"
    items = [f"k{n}" for n in range(30)]
    victim = dask_cluster.live_workers()[0]
    job_id = cli.run(
        "sh",
        "-c",
        f'sleep 0.2; echo "$0" >> {runs}',
        "{}",
        opts=("--each", str(_items(tmp_path, items)), "-j", "2", "--cluster", dask_cluster.address),
    )
    try:
        wait_for(lambda: cli.show(job_id)["done"] >= 4, 60)
        wait_for(lambda: psutil.Process(victim.pid).children(), 30, interval=0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        data = cli.wait_status(job_id, {"completed", "failed"}, timeout=90)
        assert data["status"] == "completed", data
        rows = _item_rows(home, job_id)
        assert [r["status"] for r in rows] == ["done"] * 30  # 0 lost
        assert {r["attempts"] for r in rows} == {1}  # the interrupted one was not counted
        assert set(runs.read_text().split()) == set(items)
    finally:
        dask_cluster.add_worker()
        dask_cluster.wait_workers(2)


def test_resume_after_a_kill_9_of_the_driver_reconnects_and_finishes(
    cli: CLI, tmp_path: Path, dask_cluster: DaskCluster
) -> None:
    go = tmp_path / "go"
    items = [f"d{n}" for n in range(4)]
    job_id = cli.run(
        "sh",
        "-c",
        f"while [ ! -e {go} ]; do sleep 0.05; done",
        "{}",
        opts=("--each", str(_items(tmp_path, items)), "-j", "2", "--cluster", dask_cluster.address),
    )
    wait_for(lambda: len(cli.show(job_id)["running_items"]) == 2, 60)
    os.kill(cli.show(job_id)["pid"], signal.SIGKILL)
    data = cli.wait_status(job_id, {"failed"}, timeout=30)
    assert "worker" in data["reason"]
    go.touch()
    cli("resume", job_id)
    data = cli.wait_status(job_id, {"completed", "failed"}, timeout=60)
    assert data["status"] == "completed", data
    assert data["items"]["done"] == 4
    wait_for(lambda: dask_cluster.item_processes() == [], 10)


def test_an_unreachable_scheduler_is_one_line_and_creates_nothing(cli: CLI, tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        proc = cli(
            "run",
            "--each",
            str(_items(tmp_path, ["a"])),
            "--cluster",
            f"tcp://127.0.0.1:{port}",
            "--",
            "true",
            check=False,
        )
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in proc.stderr
    assert cli.ls("--all") == []
    bad = cli(
        "run",
        "--each",
        str(_items(tmp_path, ["a"])),
        "--cluster",
        "http://x/",
        "--",
        "true",
        check=False,
    )
    assert bad.returncode == 2 and "--cluster expects tcp://HOST:PORT" in bad.stderr
    alone = cli("run", "--cluster", "tcp://127.0.0.1:8786", "--", "true", check=False)
    assert alone.returncode == 2 and "--cluster needs --each" in alone.stderr
    assert cli("config", "set", "cluster", "nonsense://", check=False).returncode == 2
