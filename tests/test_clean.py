"""jobcore clean: by count, age and status; running and queued jobs are never touched."""

from __future__ import annotations

import json
import time
from pathlib import Path

from jobcore.state.models import JobStatus
from jobcore.state.store import Store
from tests.conftest import CLI
from tests.rows import set_row


def _finished(cli: CLI, n: int, command: str = "true") -> list[str]:
    ids = [cli.run(command) for _ in range(n)]
    for job_id in ids:
        cli.wait_status(job_id, {"completed", "failed"})
    return ids


def test_clean_removes_finished_jobs_and_their_files_but_not_running_ones(
    cli: CLI, home: Path
) -> None:
    done = _finished(cli, 2) + _finished(cli, 1, "false")
    running = cli.run("sleep", "30")
    cli.wait_status(running, {"running"})
    proc = cli("clean")
    assert "removed 3 job(s)" in proc.stderr
    assert [j["id"] for j in cli.ls("--all")] == [running]
    for job_id in done:
        assert not (home / "jobs" / job_id).exists()
    assert (home / "jobs" / running).exists()
    assert cli.show(running)["status"] == "running"


def test_clean_keep_and_dry_run(cli: CLI) -> None:
    ids = _finished(cli, 4)
    dry = json.loads(cli("clean", "--keep", "1", "--dry-run", "--json").stdout)
    assert {j["id"] for j in dry} == set(ids[:3])
    assert len(cli.ls("--all")) == 4
    cli("clean", "--keep", "1")
    assert [j["id"] for j in cli.ls("--all")] == [ids[3]]


def test_clean_by_age_and_status(cli: CLI, store: Store) -> None:
    old, new = _finished(cli, 2)
    failed = _finished(cli, 1, "false")[0]
    set_row(store, old, finished_at=time.time() - 8 * 86400)
    cli("clean", "--older-than", "7d")
    assert {j["id"] for j in cli.ls("--all")} == {new, failed}
    cli("clean", "--status", "failed")
    assert {j["id"] for j in cli.ls("--all")} == {new}


def test_paused_jobs_only_when_asked(cli: CLI, store: Store) -> None:
    job_id = cli.run("sleep", "30")
    cli.wait_status(job_id, {"running"})
    cli("stop", "--grace", "0", job_id)
    cli("clean")
    assert cli.show(job_id)["status"] == JobStatus.PAUSED.value
    cli("clean", "--status", "paused")
    assert cli.ls("--all") == []


def test_clean_refuses_active_statuses(cli: CLI) -> None:
    proc = cli("clean", "--status", "running", check=False)
    assert proc.returncode == 2 and "never removes running" in proc.stderr
    proc = cli("clean", "--older-than", "soon", check=False)
    assert proc.returncode == 2 and "cannot read duration" in proc.stderr
