"""A batch stopped halfway and resumed from another environment (another terminal, cron,
the dashboard) runs its remaining items with the environment it was launched with."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.conftest import CLI, run_cli_in, wait_for

ITEMS = 20
PROBE = """#!/bin/sh
echo "$1 FOO=$FOO" >> "$2"
sleep 0.2
"""


def _jobcore(env: dict[str, str], *args: str) -> str:
    return run_cli_in(env, *args).stdout.strip()


def test_env_after_resume_from_another_environment(cli: CLI, tmp_path: Path) -> None:
    bindir = tmp_path / "venv-bin"
    bindir.mkdir()
    probe = bindir / "jc-item"
    probe.write_text(PROBE)
    probe.chmod(probe.stat().st_mode | stat.S_IXUSR)
    launch = {**os.environ, "FOO": "launch", "PATH": f"{bindir}:{os.environ['PATH']}"}
    elsewhere = {**os.environ, "FOO": "other"}  # no venv-bin: jc-item is not even found
    record = tmp_path / "record.txt"
    items = tmp_path / "items.txt"
    items.write_text("".join(f"item-{i}\n" for i in range(ITEMS)))

    job_id = _jobcore(
        launch, "run", "-q", "--each", str(items), "-j", "2", "--", "jc-item", "{}", str(record)
    )
    wait_for(lambda: record.exists() and len(record.read_text().splitlines()) >= 6)
    _jobcore(elsewhere, "stop", "--grace", "2", job_id)
    before = len(record.read_text().splitlines())
    _jobcore(elsewhere, "resume", job_id)
    data = cli.wait_status(job_id, {"completed", "failed"}, timeout=60)

    after = record.read_text().splitlines()[before:]
    kept = sum(line.endswith(" FOO=launch") for line in after)
    print(
        f"env after resume from another environment: launch env kept in {kept} of "
        f"{len(after)} item runs after the resume (job {data['status']})"
    )
    assert data["status"] == "completed"
    assert after and kept == len(after)
