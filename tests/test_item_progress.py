"""Progress inside a batch item is the item's; of nested tqdm bars the job follows the outer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from tests.conftest import CLI, wait_for

PY = sys.executable


def _items(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "items.txt"
    path.write_text("".join(f"part-{i}\n" for i in range(n)))
    return path


def test_each_item_reports_its_own_progress_and_the_batch_keeps_its_counts(
    cli: CLI, tmp_path: Path
) -> None:
    """Markers, ``jobcore progress`` and ``progress()`` inside an item: the item's progress."""
    gate = tmp_path / "gate"
    script = (
        'i=0; while [ $i -le 1000 ]; do echo "::progress $i/1000 rows"; i=$((i+100)); done; '
        f"{PY} -m jobcore progress --done 500 --total 1000 --item half; "
        f'{PY} -c "from jobcore import progress; [x for x in progress(range(1000))]"; '
        f"while [ ! -e {gate} ]; do sleep 0.05; done"
    )
    job_id = cli.run("sh", "-c", script, "{}", opts=("--each", str(_items(tmp_path, 6)), "-j", "3"))

    def three_reported() -> list[dict[str, object]] | None:
        running = cli.show(job_id)["running_items"]
        done = [r for r in running if r["progress"] and r["progress"]["done"] == 1000]
        return running if len(done) == 3 else None

    attach = subprocess.Popen(
        [PY, "-m", "jobcore", "attach", job_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    watched: list[str] = []
    reader = threading.Thread(target=lambda: watched.extend(attach.stdout or ()), daemon=True)
    reader.start()
    try:
        running = wait_for(three_reported, timeout=60)
        data = cli.show(job_id)
        assert (data["done"], data["total"]) == (0, 6)
        shown = cli("show", job_id).stdout
        assert "running items:" in shown and "part-0  1000/1000 (100%)" in shown, shown
        expected = "part-0 1000/1000 (100%) | part-1 1000/1000 (100%)"
        wait_for(lambda: any(expected in line for line in watched), timeout=30)
    finally:
        gate.touch()
        attach.wait(timeout=60)
    assert all(r["progress"]["total"] == 1000 for r in running), running
    data = cli.wait_status(job_id, {"completed", "failed"}, timeout=60)
    assert (data["status"], data["done"], data["total"]) == ("completed", 6, 6)
    log = cli("logs", job_id).stdout
    assert "::progress" not in log  # markers are kept out of the log, as a job's are


NESTED = """
    import time
    from {module} import tqdm

    for epoch in tqdm(range(3), desc="epoch", mininterval=0):
        for batch in tqdm(range(40), desc="batch", leave=False, mininterval=0):
            time.sleep(0.01)
"""


def _follow_nested(cli: CLI, tmp_path: Path, module: str) -> None:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(NESTED.format(module=module)))
    job_id = cli.run(PY, str(script))
    seen: list[tuple[int, int | None]] = []

    def ended() -> bool:
        data = cli.show(job_id)
        seen.append((data["done"], data["total"]))
        return data["status"] in ("completed", "failed")

    wait_for(ended, timeout=60)
    data = cli.show(job_id)
    assert data["status"] == "completed"
    assert (data["done"], data["total"]) == (3, 3)
    assert all(total in (None, 3) for _, total in seen), seen
    dones = [done for done, _ in seen]
    assert dones == sorted(dones), seen  # never reset by the inner bar


def test_nested_tqdm_bars_the_job_follows_the_outer_one(cli: CLI, tmp_path: Path) -> None:
    _follow_nested(cli, tmp_path, "tqdm")


def test_nested_jobcore_tqdm_bars_the_job_follows_the_outer_one(cli: CLI, tmp_path: Path) -> None:
    _follow_nested(cli, tmp_path, "jobcore.tqdm")
