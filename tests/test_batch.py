"""Batches: items with checkpoints that stop, resume and retry exactly where they left off."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from jobcore.state.paths import resolve_home
from jobcore.state.store import Store
from tests.conftest import CLI, kill_dispatchers, wait_for

ROOT = Path(__file__).resolve().parent.parent


def _items_file(tmp_path: Path, items: list[str]) -> Path:
    path = tmp_path / "items.txt"
    path.write_text("".join(f"{i}\n" for i in items), encoding="utf-8")
    return path


def _recording_command(
    tmp_path: Path, sleep: float = 0.0, fail: str = "", gate_from: int | None = None
) -> list[str]:
    """An item command appending 'start ITEM' and 'done ITEM' lines to a record file.

    With ``gate_from``, items numbered from there on wait for ``tmp_path/gate`` to exist: the
    batch cannot finish before the test has stopped or killed it, however slow the machine.
    """
    record = tmp_path / "record.txt"
    gate = tmp_path / "gate"
    wait = (
        f'[ "$0" -lt {gate_from} ] || while [ ! -e {gate} ]; do sleep 0.05; done; '
        if gate_from is not None
        else ""
    )
    script = (
        f'echo "start $0" >> {record}; {wait}sleep {sleep}; '
        f'case "$0" in {fail or "NEVER"}) echo "failing $0"; exit 3;; esac; '
        f'echo "done $0" >> {record}'
    )
    return ["sh", "-c", script, "{}"]


def _record(tmp_path: Path) -> tuple[Counter[str], Counter[str]]:
    starts: Counter[str] = Counter()
    dones: Counter[str] = Counter()
    path = tmp_path / "record.txt"
    for line in path.read_text().splitlines() if path.exists() else []:
        kind, _, item = line.partition(" ")
        (starts if kind == "start" else dones)[item] += 1
    return starts, dones


def test_200_items_with_some_failing(cli: CLI, tmp_path: Path) -> None:
    items = [str(i) for i in range(200)]
    each = _items_file(tmp_path, items)
    command = _recording_command(tmp_path, fail="*7")
    job_id = cli.run(*command, opts=("--each", str(each), "-j", "4"))
    data = cli.wait_status(job_id, {"completed", "failed"}, timeout=120)
    failing = {i for i in items if i.endswith("7")}
    assert data["status"] == "failed"
    assert data["error"] == f"{len(failing)} of 200 items failed"
    assert (data["done"], data["total"], data["errors"]) == (200 - len(failing), 200, len(failing))
    starts, dones = _record(tmp_path)
    assert set(starts) == set(items) and all(n == 1 for n in starts.values())
    assert set(dones) == set(items) - failing
    show = cli.show(job_id)
    assert show["items"] == {"pending": 0, "running": 0, "done": 180, "failed": 20}
    assert {r["item"] for r in show["failed_items"]} == failing
    assert all(r["error"] == f"exit code 3: failing {r['item']}" for r in show["failed_items"])
    assert cli("logs", "--item", "17", job_id).stdout == "failing 17\n"
    assert "  17  (1 attempt): exit code 3: failing 17" in cli("show", job_id).stdout


def _run_until_half(cli: CLI, job_id: str, total: int) -> None:
    wait_for(lambda: cli.show(job_id)["done"] >= total // 2, timeout=60)


def _check_exactly_once(tmp_path: Path, items: list[str], max_reruns: int) -> None:
    """No item lost; only items in flight at the interruption ran (or finished) twice."""
    starts, dones = _record(tmp_path)
    assert all(dones[i] >= 1 for i in items), "an item was lost"
    rerun = {i for i, n in starts.items() if n > 1}
    assert len(rerun) <= max_reruns, f"re-ran more than the in-flight items: {rerun}"
    twice = {i for i, n in dones.items() if n > 1}
    assert twice <= rerun, f"done twice without being in flight: {twice - rerun}"


def test_stop_is_a_checkpoint_and_resume_finishes(cli: CLI, tmp_path: Path) -> None:
    items = [str(i) for i in range(60)]
    each = _items_file(tmp_path, items)
    command = _recording_command(tmp_path, sleep=0.1, gate_from=len(items) // 2)
    job_id = cli.run(*command, opts=("--each", str(each), "-j", "4"))
    _run_until_half(cli, job_id, len(items))
    cli("stop", job_id)
    paused = cli.show(job_id)
    assert paused["status"] == "paused"
    assert paused["items"]["running"] == 0 and paused["items"]["pending"] > 0
    (tmp_path / "gate").touch()
    cli("resume", job_id)
    data = cli.wait_status(job_id, {"completed", "failed"}, timeout=60)
    assert data["status"] == "completed" and data["done"] == 60
    _check_exactly_once(tmp_path, items, max_reruns=4)


def test_resume_after_kill_9_of_the_worker(cli: CLI, tmp_path: Path) -> None:
    items = [str(i) for i in range(60)]
    each = _items_file(tmp_path, items)
    command = _recording_command(tmp_path, sleep=0.1, gate_from=len(items) // 2)
    job_id = cli.run(*command, opts=("--each", str(each), "-j", "4"))
    _run_until_half(cli, job_id, len(items))
    worker = psutil.Process(cli.show(job_id)["pid"])
    children = worker.children(recursive=True)
    worker.send_signal(signal.SIGKILL)
    for child in children:  # in-flight items die with their worker in real life (reboot)
        with contextlib.suppress(psutil.Error):
            child.kill()
    assert cli.wait_status(job_id, {"failed"})["error"] == "worker died unexpectedly"
    (tmp_path / "gate").touch()
    cli("resume", job_id)
    data = cli.wait_status(job_id, {"completed", "failed"}, timeout=60)
    assert data["status"] == "completed"
    _check_exactly_once(tmp_path, items, max_reruns=4)


def test_retries_with_backoff_are_counted_per_item(cli: CLI, tmp_path: Path) -> None:
    each = _items_file(tmp_path, ["ok", "bad"])
    command = _recording_command(tmp_path, fail="bad")
    started = time.monotonic()
    job_id = cli.run(*command, opts=("--each", str(each), "--retries", "2", "--backoff", "0.2"))
    data = cli.wait_status(job_id, {"completed", "failed"})
    elapsed = time.monotonic() - started
    assert data["status"] == "failed"
    failed = cli.show(job_id)["failed_items"]
    assert [(r["item"], r["attempts"]) for r in failed] == [("bad", 3)]
    assert "  bad  (3 attempts): exit code 3" in cli("show", job_id).stdout
    starts, _ = _record(tmp_path)
    assert starts == Counter({"ok": 1, "bad": 3})
    assert elapsed >= 0.2 * 0.5 + 0.4 * 0.5  # two backoffs of at least half their base


def test_retry_one_item_then_all(cli: CLI, tmp_path: Path) -> None:
    flag = tmp_path / "fixed"
    each = _items_file(tmp_path, ["a", "b", "c"])
    script = f'[ -e {flag} ] || {{ echo "broken $0"; exit 1; }}; echo "ok $0"'
    job_id = cli.run("sh", "-c", script, "{}", opts=("--each", str(each)))
    assert cli.wait_status(job_id, {"failed"})["errors"] == 3
    flag.write_text("")
    cli("retry", job_id, "--item", "b")
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert (data["status"], data["done"], data["errors"]) == ("failed", 1, 2)
    assert {
        r["item"] for r in cli.ls("--all")[0]["batch"] and cli.show(job_id)["failed_items"]
    } == {"a", "c"}
    cli("retry", job_id)
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert (data["status"], data["done"], data["errors"]) == ("completed", 3, 0)
    proc = cli("retry", job_id, check=False)
    assert proc.returncode == 1 and "nothing to retry" in proc.stderr


def test_items_reach_the_command_intact(cli: CLI, tmp_path: Path) -> None:
    items = ["with space", 'it\'s "quoted"', "ünïcødé 日本", "$HOME;`id`", "  padded  "]
    each = _items_file(tmp_path, items)
    out = tmp_path / "out.txt"
    job_id = cli.run("sh", "-c", f'printf "%s\\n" "$0" >> {out}', "{}", opts=("--each", str(each)))
    assert cli.wait_status(job_id, {"completed", "failed"})["status"] == "completed"
    assert sorted(out.read_text(encoding="utf-8").splitlines()) == sorted(items)


def test_items_from_stdin(cli: CLI, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    proc = cli(
        "run", "-q", "--each", "-", "--", "sh", "-c", f'echo "$0" >> {out}', input="x\n\n  \ny\n"
    )
    job_id = proc.stdout.strip()
    assert cli.wait_status(job_id, {"completed"})["total"] == 2
    assert sorted(out.read_text().split()) == ["x", "y"]


def test_self_pause_by_exit_75_then_resume(cli: CLI, tmp_path: Path) -> None:
    each = _items_file(tmp_path, ["1", "2", "3", "4"])
    flag = tmp_path / "limited"
    script = (
        f'if [ "$0" = 3 ] && [ ! -e {flag} ]; then touch {flag}; echo "rate limited"; exit 75; fi; '
        f'echo "$0" >> {tmp_path}/ran'
    )
    job_id = cli.run("sh", "-c", script, "{}", opts=("--each", str(each)))
    data = cli.wait_status(job_id, {"paused", "completed", "failed"})
    assert (data["status"], data["reason"]) == ("paused", "rate limited")
    assert "rate limited" in cli("ls").stdout
    cli("resume", job_id)
    assert cli.wait_status(job_id, {"completed", "failed"})["status"] == "completed"
    assert sorted((tmp_path / "ran").read_text().split()) == ["1", "2", "3", "4"]


def _pausing_batch(cli: CLI, tmp_path: Path, items: list[str], pause_s: float) -> tuple[str, Path]:
    """A ``--call`` batch whose item "3" pauses the job once for ``pause_s`` seconds (a rate
    limit); the job id and the file the items are recorded in."""
    record = tmp_path / "record.txt"
    each = _items_file(tmp_path, items)
    opts = ("--each", str(each), "--call", "tests.examples.batchfuncs:pause_once")
    env = ("--env", f"RECORD={record}", "--env", f"PAUSE_S={pause_s}")
    return cli.run(opts=(*opts, "--cwd", str(ROOT), *env)), record


def test_python_batch_with_pause_and_automatic_resume(cli: CLI, tmp_path: Path) -> None:
    # Long enough to be seen paused on a loaded machine (CI missed a 3 s one), short enough
    # to wait out.
    job_id, record = _pausing_batch(cli, tmp_path, ["1", "2", "3", "4", "5"], pause_s=6)
    paused = cli.wait_status(job_id, {"paused", "completed", "failed"})
    assert paused["status"] == "paused" and paused["reason"] == "rate limited"
    assert paused["paused_until"] is not None
    assert "paused until" in cli("ls").stdout
    data = cli.wait_status(job_id, {"completed", "failed"}, timeout=30)
    assert data["status"] == "completed"
    assert sorted(record.read_text().split()) == ["1", "2", "3", "4", "5"]
    assert "resumed by itself" in cli("logs", job_id).stdout


@pytest.mark.parametrize("mode", [(), ("--processes",)], ids=["threads", "processes"])
def test_python_batch_records_results_and_errors(
    cli: CLI, tmp_path: Path, mode: tuple[str, ...]
) -> None:
    record = tmp_path / "record.txt"
    each = _items_file(tmp_path, ["alpha", "bad one", "gamma", "delta"])
    job_id = cli.run(
        opts=(
            "--each",
            str(each),
            "--call",
            "tests.examples.batchfuncs:record",
            "-j",
            "2",
            "--cwd",
            str(ROOT),
            "--env",
            f"RECORD={record}",
            *mode,
        )
    )
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert (data["status"], data["done"], data["errors"]) == ("failed", 3, 1)
    failed = cli.show(job_id)["failed_items"]
    assert [(r["item"], r["error"]) for r in failed] == [
        ("bad one", "ValueError: cannot handle bad one")
    ]
    with Store(resolve_home(cli.home)) as store:
        results = dict(
            store.conn.execute(
                "SELECT item, result FROM items WHERE job_id = ? AND status = 'done'", (job_id,)
            ).fetchall()
        )
    assert results["gamma"] == '{"item": "gamma", "length": 5}'


def test_bad_call_target_is_refused_before_launch(cli: CLI, tmp_path: Path) -> None:
    each = _items_file(tmp_path, ["x"])
    for target, message in [
        ("no_such_module_xyz:fn", "no module named 'no_such_module_xyz'"),
        ("tests.examples.batchfuncs:missing", "has no 'missing'"),
        ("justamodule", "expects package.module:function"),
    ]:
        proc = cli("run", "--each", str(each), "--call", target, "--cwd", str(ROOT), check=False)
        assert proc.returncode in (1, 2) and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert cli.ls("--all") == []


def test_submit_from_python(home: Path, tmp_path: Path) -> None:
    record = tmp_path / "record.txt"
    code = (
        "import jobcore, os\n"
        f"os.environ['RECORD'] = {str(record)!r}\n"
        "print(jobcore.submit('tests.examples.batchfuncs:record', ['a', 'b', 'c'], parallel=2))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    cli = CLI(home)
    data = cli.wait_status(proc.stdout.strip(), {"completed", "failed"})
    assert (data["status"], data["total"], data["done"]) == ("completed", 3, 3)


def test_two_resumes_at_once_start_one_worker(cli: CLI, tmp_path: Path) -> None:
    each = _items_file(tmp_path, [str(i) for i in range(20)])
    job_id = cli.run(*_recording_command(tmp_path, sleep=0.1), opts=("--each", str(each)))
    cli.wait_status(job_id, {"running"})
    cli("stop", job_id)
    results: list[subprocess.CompletedProcess[str]] = []
    threads = [
        threading.Thread(target=lambda: results.append(cli("resume", job_id, check=False)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.returncode for r in results) == [0, 1]
    loser = next(r for r in results if r.returncode == 1)
    assert "already" in loser.stderr
    assert cli.wait_status(job_id, {"completed", "failed"}, timeout=60)["status"] == "completed"
    _check_exactly_once(tmp_path, [str(i) for i in range(20)], max_reruns=1)


def test_resume_refusals(cli: CLI, tmp_path: Path) -> None:
    each = _items_file(tmp_path, ["1"])
    job_id = cli.run("true", opts=("--each", str(each)))
    cli.wait_status(job_id, {"completed"})
    proc = cli("resume", job_id, check=False)
    assert proc.returncode == 1 and "completed" in proc.stderr


def test_failures_list_and_forget(cli: CLI, tmp_path: Path) -> None:
    each = _items_file(tmp_path, ["x", "y"])
    job_id = cli.run("false", opts=("--each", str(each)))
    cli.wait_status(job_id, {"failed"})
    rows = __import__("json").loads(cli("failures", "--json").stdout)
    assert {(r["job_id"], r["item"]) for r in rows} == {(job_id, "x"), (job_id, "y")}
    cli("failures", "--forget", job_id)
    assert cli("failures", "--json").stdout.strip() == "[]"
    assert os.path.exists(cli.home / "jobcore.db")


def test_an_automatic_resume_survives_a_killed_dispatcher(cli: CLI, tmp_path: Path) -> None:
    """The pause is a row: with the dispatcher killed meanwhile, the next command starts
    another, and the job resumes at its time."""
    job_id, record = _pausing_batch(cli, tmp_path, ["1", "2", "3"], pause_s=6)
    paused = cli.wait_status(job_id, {"paused", "completed", "failed"})
    assert paused["status"] == "paused" and paused["paused_until"] is not None
    kill_dispatchers(cli.home)
    cli("ls")
    assert cli.wait_status(job_id, {"completed", "failed"})["status"] == "completed"
    assert sorted(record.read_text().split()) == ["1", "2", "3"]


def test_items_inherit_only_their_stdin_and_output_pipe(cli: CLI, tmp_path: Path) -> None:
    """Items are spawned without closing descriptors one by one: the worker's own (the
    database, the log, slot locks) must all be close-on-exec, or an item would hold them."""
    script = (
        "import os; fds = [int(f) for f in os.listdir('/proc/self/fd')];"
        " print(sorted(f for f in fds if os.path.exists(f'/proc/self/fd/{f}')),"
        " os.readlink('/proc/self/fd/0'))"
    )
    each = _items_file(tmp_path, ["a"])
    job_id = cli.run(sys.executable, "-c", script, opts=("--each", str(each)))
    assert cli.wait_status(job_id, {"completed", "failed"})["status"] == "completed"
    assert cli("logs", "--item", "a", job_id).stdout == "[0, 1, 2] /dev/null\n"
