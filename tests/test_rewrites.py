"""Lines a command rewrites in place (``\\r`` bars, cursor-up redraws) reach the log as
snapshots, not as a line per redraw: real commands run as jobs."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from tests.conftest import CLI

NESTED_TQDM = textwrap.dedent(
    """
    import time
    from tqdm import tqdm

    print("loading", flush=True)
    for epoch in tqdm(range(8), desc="epoch", mininterval=0):
        for batch in tqdm(range(40), desc="batch", leave=False, mininterval=0):
            time.sleep(0.002)
    print("saved", flush=True)
    """
)


def test_nested_tqdm_bars_leave_a_bounded_log(cli: CLI, tmp_path: Path) -> None:
    """8 epochs of 40 batches redraw the bars ~700 times (each inner redraw moves the cursor
    down a row and back up with ESC[A); the log keeps a few lines, in order, ending with the
    outer bar's final state."""
    script = tmp_path / "train.py"
    script.write_text(NESTED_TQDM)
    job_id = cli.run(sys.executable, str(script))
    cli.wait_status(job_id, {"completed"})
    raw = cli("logs", "-n", "100000", job_id).stdout  # in a pipe: the bytes as logged
    lines = raw.splitlines()
    print(f"nested tqdm, ~700 redraws -> {len(lines)} log lines: {lines}")
    assert lines[0] == "loading" and lines[-1] == "saved"
    assert lines[-2].startswith("epoch: 100%") and "8/8" in lines[-2]
    assert len(lines) <= 8  # loading, the bars' first draws, snapshots (none this fast), end
    assert "\x1b[A" not in raw
