"""A failed job says why: its last ``::error``, else its last line; ``failures`` lists it."""

from __future__ import annotations

import json

from tests.conftest import CLI


def test_a_failed_command_gives_its_last_line_as_the_reason(cli: CLI) -> None:
    job_id = cli.run("sh", "-c", "echo starting; echo 'Rate limit exceeded' >&2; exit 1")
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert data["error"] == "exited with code 1: Rate limit exceeded"


def test_a_failed_command_gives_its_last_error_marker_as_the_reason(cli: CLI) -> None:
    script = "echo '::error quota exhausted for bucket b1'; echo 'cleaning up'; exit 2"
    job_id = cli.run("sh", "-c", script)
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert data["error"] == "exited with code 2: quota exhausted for bucket b1"


def test_failures_lists_failed_single_jobs_beside_failed_items(cli: CLI, tmp_path) -> None:
    single = cli.run("sh", "-c", "echo 'disk full' >&2; exit 3", opts=("--name", "backup"))
    each = tmp_path / "items.txt"
    each.write_text("ok\nbad\n")
    batch = cli.run(
        "sh", "-c", 'test "$0" = ok || { echo "no $0"; exit 4; }', "{}", opts=("--each", str(each))
    )
    cli.wait_status(single, {"failed"})
    cli.wait_status(batch, {"failed"})
    listed = json.loads(cli("failures", "--json").stdout)
    by_job = {entry["job_id"]: entry for entry in listed}
    assert by_job[single]["error"] == "exited with code 3: disk full"
    assert by_job[single]["item"] is None and by_job[single]["exit_code"] == 3
    assert by_job[single]["command"] == ["sh", "-c", "echo 'disk full' >&2; exit 3"]
    assert by_job[batch]["item"] == "bad" and by_job[batch]["error"] == "exit code 4: no bad"
    table = cli("failures").stdout
    assert single in table and "backup" in table and "disk full" in table
    cli("failures", "--forget", single)
    assert single not in cli("failures").stdout and batch in cli("failures").stdout


def test_a_failed_item_gives_its_last_error_marker_as_the_reason(cli: CLI, tmp_path) -> None:
    each = tmp_path / "items.txt"
    each.write_text("a\n")
    script = 'echo "::error cannot parse $0"; echo "cleaning up"; exit 4'
    job_id = cli.run("sh", "-c", script, "{}", opts=("--each", str(each)))
    cli.wait_status(job_id, {"failed"})
    (failed,) = cli.show(job_id)["failed_items"]
    assert failed["error"] == "exit code 4: cannot parse a"
