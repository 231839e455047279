"""`--call` items are debuggable: their output and tracebacks are in the log under the item,
and ``logs --item`` shows exactly one item's lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CLI

ROOT = Path(__file__).resolve().parent.parent


def _items(tmp_path: Path, items: list[str]) -> Path:
    path = tmp_path / "items.txt"
    path.write_text("".join(f"{i}\n" for i in items))
    return path


@pytest.mark.parametrize("mode", [(), ("--processes",)], ids=["threads", "processes"])
def test_call_items_print_log_and_fail_under_their_prefix(
    cli: CLI, tmp_path: Path, mode: tuple[str, ...]
) -> None:
    each = _items(tmp_path, ["alpha", "bad-beta", "gamma"])
    target = "tests.examples.batchfuncs:chatty"
    opts = ("--each", str(each), "--call", target, "-j", "2", "--cwd", str(ROOT), *mode)
    job_id = cli.run(opts=opts)
    data = cli.wait_status(job_id, {"completed", "failed"})
    assert (data["status"], data["done"], data["total"]) == ("failed", 2, 3)
    log = cli("logs", "-n", "1000", job_id).stdout.splitlines()
    for item in ("alpha", "bad-beta", "gamma"):
        assert f"[{item}] hello from {item}" in log, log
        assert f"[{item}] INFO working on {item}" in log, log
    assert "[bad-beta] Traceback (most recent call last):" in log, log
    assert "[bad-beta] ValueError: cannot handle bad-beta" in log, log
    own = cli("logs", "--item", "bad-beta", job_id).stdout.splitlines()
    assert own[0] == "hello from bad-beta" and own[-1] == "ValueError: cannot handle bad-beta"
    assert not any("alpha" in line or "gamma" in line for line in own)
    items = {r["item"]: r for r in cli.show(job_id)["failed_items"]}
    assert items["bad-beta"]["progress"]["done"] == 300  # progress() was the item's own
    assert data["errors"] == 1  # the batch's count: its failed item, not progress() calls


def test_logs_item_matches_the_item_exactly(cli: CLI, tmp_path: Path) -> None:
    base = "/data/exports/" + "x" * 60
    items = [f"{base}/part-A.csv", f"{base}/part-B.csv", "a", "a] b"]
    job_id = cli.run(
        "sh", "-c", 'echo "line of $0"', "{}", opts=("--each", str(_items(tmp_path, items)))
    )
    assert cli.wait_status(job_id, {"completed", "failed"})["status"] == "completed"
    for item in items:
        assert cli("logs", "--item", item, job_id).stdout == f"line of {item}\n"
    proc = cli("logs", "--item", "part-C.csv", job_id, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"jobcore: error: no item 'part-C.csv' in job {job_id}"
    log = cli("logs", job_id).stdout
    assert "[a] line of a\n" in log and "[a) b #3] line of a] b\n" in log
