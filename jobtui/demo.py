"""``python -m jobtui.demo [--home DIR]``: real jobs to look at, then the dashboard.

Launches a few real background jobs through ``jobcore.ops.launcher.launch`` — a shell loop printing
marker lines, a Python script drawing a tqdm-style ``\\r`` bar, one that fails, one that gets
stopped (paused) and one that completes — then opens the dashboard when stdout is a terminal.
Without a terminal it prints their state the way ``jobcore ls`` does and exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from jobcore.base.errors import JobcoreError
from jobcore.ops.control import stop
from jobcore.ops.launcher import launch
from jobcore.ops.reconcile import reconcile
from jobcore.state.models import Job, JobStatus
from jobcore.state.paths import ENV_HOME, StateDir, resolve_home
from jobcore.state.store import Store
from jobcore.view.job_table import jobs_table

SHELL_LOOP = """
echo "converting 240 recordings"
for i in $(seq 1 240); do
  echo "::progress $i/240 take-$i.wav"
  echo "take-$i.wav -> take-$i.flac"
  sleep 0.25
done
"""

TQDM_STYLE = r"""
import sys, time
total = 400
start = time.monotonic()
for n in range(1, total + 1):
    time.sleep(0.12)
    elapsed = time.monotonic() - start
    rate = n / elapsed
    filled = n * 20 // total
    bar = "█" * filled + " " * (20 - filled)
    left = (total - n) / rate
    sys.stdout.write(
        f"\rresize: {n * 100 // total:3d}%|{bar}| {n}/{total} "
        f"[{int(elapsed) // 60:02d}:{int(elapsed) % 60:02d}<{int(left) // 60:02d}:"
        f"{int(left) % 60:02d}, {rate:.2f}it/s]"
    )
    sys.stdout.flush()
print()
"""

FAILING = """
echo "::total 50"
for i in $(seq 1 17); do echo "::progress $i uploading part-$i"; sleep 0.05; done
echo "::error part-18: connection reset by peer"
echo "upload failed: server closed the connection" >&2
exit 3
"""

STOPPABLE = """
echo "::total 1000"
for i in $(seq 1 1000); do echo "::progress $i/1000 table-$i"; sleep 0.2; done
"""

COMPLETING = """
for f in a b c d e f g h; do echo "::progress +1 $f.iso"; echo "sha256 $f.iso ok"; done
"""


def demo_home(home: str | None) -> StateDir:
    """``--home``, else ``$JOBCORE_HOME``, else a fresh temporary folder."""
    if home or os.environ.get(ENV_HOME):
        return resolve_home(home)
    return resolve_home(Path(tempfile.mkdtemp(prefix="jobtui-demo-")))


def launch_demo(state: StateDir, store: Store) -> list[Job]:
    """Start the demo jobs and bring one of them to ``paused``; returns them."""
    cwd = tempfile.gettempdir()
    jobs = [
        launch(state, store, ["sh", "-c", SHELL_LOOP], cwd=cwd, name="convert-audio"),
        launch(state, store, [sys.executable, "-c", TQDM_STYLE], cwd=cwd, name="resize-photos"),
        launch(state, store, ["sh", "-c", FAILING], cwd=cwd, name="upload-backup"),
        launch(state, store, ["sh", "-c", COMPLETING], cwd=cwd, name="checksum-isos"),
    ]
    stoppable = launch(state, store, ["sh", "-c", STOPPABLE], cwd=cwd, name="export-tables")
    jobs.append(stoppable)
    _wait(store, lambda: store.get(stoppable.id).done >= 3)
    stop(store, stoppable.id, grace=1.0)
    _wait(store, lambda: all(store.get(j.id).status is not JobStatus.QUEUED for j in jobs))
    return jobs


def _wait(store: Store, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait briefly for the jobs to get going (a demo that shows nothing happening is no demo)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)


def print_state(store: Store) -> None:
    """What ``jobcore ls`` prints, for runs without a terminal."""
    reconcile(store)
    table = jobs_table(
        store.list_jobs(),
        lambda job: None,
        time.time(),
        store.has_groups(),
        color=False,
        width=None,
    )
    print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jobtui.demo",
        description="Launch a few real background jobs and open the dashboard on them.",
    )
    parser.add_argument("--home", metavar="DIR", help="state folder (default: a fresh one)")
    args = parser.parse_args(argv)
    try:
        state = demo_home(args.home)
        with Store(state) as store:
            launch_demo(state, store)
            print(f"demo jobs are in {state.root}", file=sys.stderr)
            if not (sys.stdout.isatty() and sys.stdin.isatty()):
                time.sleep(1.0)
                print_state(store)
                return 0
    except JobcoreError as exc:
        print(f"jobtui.demo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    from jobtui.app import JobApp

    JobApp(state).run()
    print(f"the jobs keep running; see them again with: jobtui --home {state.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
