"""Progress from every route: `jobcore progress`, tqdm output, marker lines, progress()."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from jobcore.api.progress import Progress
from jobcore.state.live_line import read_live
from jobcore.state.models import JobStatus
from jobcore.state.paths import StateDir
from jobcore.state.reporter import Reporter
from jobcore.state.store import Store
from tests.conftest import CLI, wait_for
from tests.rows import set_row

EXAMPLES = Path(__file__).parent / "examples"


def _rising_done(cli: CLI, job_id: str) -> list[int]:
    """Sample ``done`` while the job runs; returns the distinct values seen."""
    seen: list[int] = []
    while True:
        data = cli.show(job_id)
        if data["done"] and (not seen or seen[-1] != data["done"]):
            seen.append(data["done"])
        if data["status"] != "running" and data["status"] != "queued":
            return seen
        time.sleep(0.05)


def test_shell_loop_reports_with_jobcore_progress(cli: CLI) -> None:
    script = (
        '"$0" -m jobcore progress --total 6; '
        'for i in 1 2 3 4 5 6; do sleep 0.15; "$0" -m jobcore progress --advance 1 --item "f $i"; '
        "done"
    )
    job_id = cli.run("sh", "-c", script, sys.executable)
    seen = _rising_done(cli, job_id)
    data = cli.show(job_id)
    assert data["status"] == "completed"
    assert (data["done"], data["total"], data["current_item"]) == (6, 6, "f 6")
    assert len(seen) >= 2 and seen == sorted(seen)


def test_progress_outside_a_job_is_refused(cli: CLI) -> None:
    proc = cli("progress", "--advance", "1", check=False)
    assert proc.returncode == 1
    assert "JOBCORE_JOB_ID" in proc.stderr and "Traceback" not in proc.stderr


def test_real_tqdm_bar_is_read_from_output(cli: CLI, tmp_path: Path) -> None:
    script = tmp_path / "tq.py"
    script.write_text(
        textwrap.dedent("""
        import time
        from tqdm import tqdm
        for _ in tqdm(range(30), desc="frames", mininterval=0.05):
            time.sleep(0.04)
    """)
    )
    job_id = cli.run(sys.executable, str(script), opts=("--name", "tq"))
    seen = _rising_done(cli, job_id)
    data = cli.show(job_id)
    assert data["status"] == "completed"
    assert (data["done"], data["total"], data["current_item"]) == (30, 30, "frames")
    assert len(seen) >= 2
    log = cli("logs", "-n", "1000", job_id).stdout
    assert len(log.splitlines()) <= 3  # \r updates collapse to the final bar
    assert "30/30" in log


def test_marker_lines_set_progress_and_stay_out_of_the_log(cli: CLI) -> None:
    script = (
        "echo start; echo '::total 4'; for i in 1 2 3; do echo \"::progress $i/4 item $i\"; done"
    )
    script += "; echo '::progress +1 last'; echo '::error bad.mp4: no audio'; echo end"
    job_id = cli.run("sh", "-c", script)
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert (data["done"], data["total"], data["errors"]) == (4, 4, 1)
    assert data["current_item"] == "last"
    log = cli("logs", job_id).stdout.splitlines()
    assert log == ["start", "::error bad.mp4: no audio", "end"]


def test_progress_api_inside_a_job(cli: CLI, tmp_path: Path) -> None:
    script = tmp_path / "work.py"
    script.write_text(
        textwrap.dedent("""
        from jobcore import progress
        for x in progress(range(2000), desc="numbers"):
            pass
        with progress(total=4) as p:
            for name in ["a", "b", "c", "d"]:
                p.set_item(name)
                if name == "c":
                    p.fail(name, "broken")
                p.advance()
    """)
    )
    job_id = cli.run(sys.executable, str(script))
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert data["status"] == "completed"
    assert (data["done"], data["total"], data["errors"], data["current_item"]) == (4, 4, 1, "d")
    assert "failed: c: broken" in cli("logs", job_id).stdout


def test_progress_api_outside_a_job_is_silent_without_a_terminal(tmp_path: Path) -> None:
    code = "from jobcore import progress\nfor _ in progress(range(1000)): pass\nprint('ok')"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCORE_")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "ok\n", "")


def test_progress_api_outside_a_job_draws_a_bar_on_a_terminal() -> None:
    code = (
        "import time\nfrom jobcore import progress\n"
        "for _ in progress(range(20), desc='bar'): time.sleep(0.01)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCORE_")}
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-c", code], stderr=slave, env=env)
        os.close(slave)
        output = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        assert proc.wait(timeout=20) == 0
    finally:
        os.close(master)
    text = output.decode()
    assert "bar: [" in text and "20/20 (100%)" in text


def test_reporter_throttles_writes_and_keeps_the_final_state(store: Store) -> None:
    job = store.create_job(["true"], "/", {}, None)
    reporter = Reporter(store, job.id, interval=0.25)
    from jobcore.base.progress_parse import ProgressUpdate

    started = time.monotonic()
    for i in range(100_000):
        reporter.update(ProgressUpdate(advance=1, total=100_000, item=str(i)))
    reporter.close()
    elapsed = time.monotonic() - started
    assert reporter.writes <= elapsed / 0.25 + 2
    final = store.get(job.id)
    assert (final.done, final.total, final.current_item) == (100_000, 100_000, "99999")


def test_progress_api_writes_are_throttled(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    job = store.create_job(["true"], "/", {}, None)
    monkeypatch.setenv("JOBCORE_JOB_ID", job.id)
    monkeypatch.setenv("JOBCORE_HOME", str(store.state.root))
    writes = []
    original = Store.record_progress
    monkeypatch.setattr(
        Store, "record_progress", lambda self, *a, **k: (writes.append(1), original(self, *a, **k))
    )
    started = time.monotonic()
    for _ in Progress(range(200_000)):
        pass
    elapsed = time.monotonic() - started
    assert len(writes) <= elapsed / 0.25 + 3
    assert store.get(job.id).done == 200_000


def test_attach_ends_with_the_job(cli: CLI) -> None:
    job_id = cli.run(
        "sh", "-c", "for i in 1 2 3; do echo line $i; echo ::progress $i/3; sleep 0.1; done"
    )
    proc = cli("attach", job_id, timeout=30)
    assert proc.returncode == 0
    assert "line 1" in proc.stdout and "line 3" in proc.stdout
    assert "3/3 (100%)" in proc.stdout and "completed" in proc.stdout


def test_attach_ends_when_the_worker_dies(cli: CLI) -> None:
    job_id = cli.run("sleep", "60")
    data = cli.wait_status(job_id, {"running"})
    attach = subprocess.Popen(
        [sys.executable, "-m", "jobcore", "attach", job_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(0.3)
        os.kill(data["pid"], 9)
        out, _ = attach.communicate(timeout=20)
    finally:
        attach.kill()
    assert attach.returncode == 1
    assert "worker died unexpectedly" in out


def test_estimate_from_history(cli: CLI, store: Store) -> None:
    now = time.time()
    for duration in (100.0, 120.0, 400.0):
        job = store.create_job(["true"], "/", {}, "nightly")
        set_row(
            store,
            job.id,
            status=JobStatus.COMPLETED.value,
            started_at=now - duration - 10,
            finished_at=now - 10,
            total=10,
            done=10,
        )
    running = store.create_job(["sleep", "1"], "/", {}, "nightly")
    set_row(store, running.id, status="running", started_at=now - 30, total=10, done=5)
    from jobcore.procs.identity import self_identity

    set_row(store, running.id, worker=self_identity())
    line = next(r for r in cli("ls").stdout.splitlines() if r.startswith(running.id))
    # median per item 12 s, 5 items left → about 1m 00s, marked as an estimate
    assert line.split()[3:8] == ["5/10", "(50%)", "-", "~1m", "00s"]
    proc = cli("run", "--name", "nightly", "--", "true")
    assert "earlier runs of 'nightly' took about 2m 00s (median of 3)" in proc.stderr


def test_background_flag_relaunches_the_cli_as_a_job(cli: CLI) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "bgcli.py"), "--verbose", "--bg", "greet", "World"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    job_id = proc.stdout.strip()
    assert f"jobcore attach {job_id}" in proc.stderr
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert data["status"] == "completed"
    assert data["command"][1:] == [str(EXAMPLES / "bgcli.py"), "--verbose", "greet", "World"]
    assert cli("logs", job_id).stdout == f"hello World (verbose) in job {job_id}\n"


def test_background_flag_absent_runs_in_the_foreground() -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "bgcli.py"), "greet", "You"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.stdout == "hello You in job -\n"


def test_a_rewritten_line_is_live_beside_the_log(cli: CLI, state: StateDir, tmp_path: Path) -> None:
    """Between the log's snapshots of a \\r bar, ``<job>/live`` holds the bar as it is now;
    it is gone when the line ends, and the log has the final bar."""
    gate = tmp_path / "gate"
    script = (
        'printf "\\rstep 1/3"; sleep 0.1; printf "\\rstep 2/3";'
        f' while [ ! -e {gate} ]; do sleep 0.02; done; printf "\\rstep 3/3\\n"; sleep 0.2'
    )
    job_id = cli.run("sh", "-c", script)
    live = state.live_path(job_id)
    wait_for(lambda: read_live(live) == "step 2/3", 30)
    assert "step 2/3" not in cli("logs", job_id).stdout  # within the snapshot interval
    gate.touch()
    assert cli.wait_status(job_id, {"completed", "failed"})["status"] == "completed"
    assert not live.exists()
    assert cli("logs", job_id).stdout.splitlines()[-1] == "step 3/3"
