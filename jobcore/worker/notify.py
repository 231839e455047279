"""Telling people a job ended: its ``on_done`` callback and a desktop notification."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time

from jobcore.base.redact import Redactor
from jobcore.state.models import Ending, Job
from jobcore.worker.logwriter import LogWriter

CALLBACK_TIMEOUT_S = 60.0
CALLBACK_DRAIN_S = 0.5


def run_callback(
    job: Job, ending: Ending, command: str, env: dict[str, str], log_fd: int, mask: Redactor
) -> str:
    """pueue's callback: a shell command told about the job through its environment; how it
    went, in a few words."""
    env.update(
        {
            "JOBCORE_JOB_NAME": job.name or "",
            "JOBCORE_JOB_STATUS": ending.status.value,
            "JOBCORE_JOB_EXIT_CODE": "" if ending.exit_code is None else str(ending.exit_code),
            "JOBCORE_JOB_REASON": ending.reason or "",
        }
    )
    # Its output is masked like the command's, never written straight to the log.
    writer = LogWriter(log_fd, redact=mask)
    try:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            env=env,
            cwd=job.cwd if os.path.isdir(job.cwd) else "/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except OSError as exc:
        outcome = f"could not run: {exc}"
    else:
        code = _pump_callback(proc, writer)
        timed_out = f"timed out after {CALLBACK_TIMEOUT_S:g} s"
        outcome = timed_out if code is None else f"exit code {code}"
    writer.close()
    return outcome


def _pump_callback(proc: subprocess.Popen[bytes], writer: LogWriter) -> int | None:
    """Copy the callback's output until it ends; its exit code, or None once it was killed
    at CALLBACK_TIMEOUT_S. Something it left in the background holding the pipe (``cmd &``)
    is not waited for beyond CALLBACK_DRAIN_S after the callback exited."""
    import select

    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + CALLBACK_TIMEOUT_S
    exited_at = None
    while time.monotonic() < deadline:
        if exited_at is None and proc.poll() is not None:
            exited_at = time.monotonic()
        if exited_at is not None and time.monotonic() - exited_at > CALLBACK_DRAIN_S:
            break
        if select.select([fd], [], [], 0.1)[0]:
            data = os.read(fd, 65536)
            if not data:
                break
            writer.feed(data)
    proc.stdout.close()
    try:
        return proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def notify_desktop(job: Job, threshold: float | None) -> None:
    """A desktop notification for a long job, where ``notify-send`` exists."""
    elapsed = job.elapsed(time.time())
    if threshold is None or elapsed is None or elapsed < threshold:
        return
    program = shutil.which("notify-send")
    if program is None:
        return
    text = f"{job.label[:80]} {job.status.value}" + (f": {job.reason}" if job.reason else "")
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        subprocess.run(
            [program, f"jobcore: job {job.id}", text],
            timeout=10,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
