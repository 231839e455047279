"""Honest figures: percentages, elapsed time across resumes, no rate once finished, the
estimate from history with -j, and markers only at the start of a line."""

from __future__ import annotations

import time
from pathlib import Path

from jobcore.state.estimate import expected_remaining, from_history
from jobcore.state.models import JobStatus
from jobcore.state.store import Store
from jobcore.view import fmt
from tests.conftest import CLI
from tests.rows import set_row


def test_percentages_round_down_and_nothing_of_nothing_is_zero() -> None:
    assert fmt.progress(0, 0) == "0/0 (0%)"
    assert fmt.progress(199, 200) == "199/200 (99%)"
    assert fmt.progress(200, 200) == "200/200 (100%)"
    assert fmt.progress(1, 3) == "1/3 (33%)"


def test_the_estimate_from_history_accounts_for_parallelism(store: Store) -> None:
    now = time.time()
    for _ in range(3):  # 100 items in 100 s with -j 1: 1 s per item per slot
        job = store.create_job(["true"], "/", {}, "nightly")
        set_row(
            store,
            job.id,
            status=JobStatus.COMPLETED.value,
            started_at=now - 110,
            finished_at=now - 10,
            total=100,
            done=100,
        )
    running = store.create_job(["true"], "/", {}, "nightly", spec={"each": True, "parallel": 4})
    set_row(store, running.id, status="running", started_at=now, total=100, done=20)
    estimate = from_history(store, "nightly", exclude=running.id)
    assert estimate is not None
    assert expected_remaining(store.get(running.id), estimate, now) == 20.0  # 80 items / 4


def test_a_batch_with_one_failed_item_of_200_is_99_percent(cli: CLI, tmp_path: Path) -> None:
    each = tmp_path / "items.txt"
    each.write_text("".join(f"{i}\n" for i in range(200)))
    job_id = cli.run("sh", "-c", 'test "$0" != 7', "{}", opts=("--each", str(each), "-j", "4"))
    cli.wait_status(job_id, {"completed", "failed"}, timeout=120)
    row = next(r for r in cli("ls").stdout.splitlines() if r.startswith(job_id))
    assert "199/200 (99%)" in row
    assert "199/200 (99%)" in cli("show", job_id).stdout


def test_elapsed_counts_every_leg_of_a_resumed_job(cli: CLI, tmp_path: Path) -> None:
    script = "sleep 1; test -e again || { touch again; exit 1; }"
    job_id = cli.run("sh", "-c", script, opts=("--cwd", str(tmp_path)))
    first = cli.wait_status(job_id, {"failed"})
    assert first["elapsed_s"] >= 1.0
    cli("resume", job_id)
    data = cli.wait_status(job_id, {"completed"})
    assert data["elapsed_s"] >= 2.0  # both legs, not the last one only
    assert data["elapsed_s"] >= first["elapsed_s"] + 1.0


def test_a_finished_job_has_no_rate_nor_eta(cli: CLI) -> None:
    script = "echo ::progress 1/4; sleep 0.6; echo ::progress 2/4; sleep 0.6; echo ::progress 3/4"
    job_id = cli.run("sh", "-c", script)
    data = cli.wait_status(job_id, {"completed"})
    assert (data["done"], data["total"]) == (3, 4)
    assert data["rate"] is None and data["eta_s"] is None
    fields = dict(
        line.strip().split("  ", 1) for line in cli("show", job_id).stdout.splitlines() if line
    )
    assert fields["rate"].strip() == "-" and fields["eta"].strip() == "-"


def test_an_indented_marker_is_output(cli: CLI) -> None:
    job_id = cli.run("sh", "-c", "echo '  ::progress 5/10 quoted'; echo '::total 3'")
    data = cli.wait_status(job_id, {"completed"})
    assert (data["done"], data["total"]) == (0, 3)
    assert cli("logs", job_id).stdout == "  ::progress 5/10 quoted\n"


def test_attach_shows_the_current_leg_and_the_whole_time(store: Store) -> None:
    from jobcore.cli.attach import status_line

    now = time.time()
    job = store.create_job(["true"], "/", {}, None)
    set_row(store, job.id, status="running", started_at=now - 10, run_s=100.0)
    line = status_line(store.get(job.id), now, color=False)
    assert "elapsed 10s (1m 50s in all)" in line
    assert store.get(job.id).to_json()["elapsed_s"] >= 110.0
