"""Two connections in one process must not lose sight of other processes' commits.

Regression: opening (and closing) a descriptor of the database file next to a live
connection drops this process's POSIX locks; another process then believes it is the last
user, checkpoints and resets the WAL, and the live connection reads a frozen snapshot.
"""

from __future__ import annotations

import subprocess
import sys

from jobcore.state.paths import StateDir
from jobcore.state.store import Store


def _insert_in_other_process(state: StateDir) -> str:
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from jobcore.state.paths import StateDir\nfrom jobcore.state.store import Store\n"
        "with Store(StateDir(Path(sys.argv[1]))) as s:\n"
        "    print(s.create_job(['true'], '/', {}, None).id)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(state.root)], capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def test_a_second_store_in_the_process_keeps_the_first_one_current(state: StateDir) -> None:
    first = Store(state)
    first.get(_insert_in_other_process(state))
    second = Store(state)
    try:
        for _ in range(3):
            job_id = _insert_in_other_process(state)
            assert first.get(job_id).id == job_id
            assert second.get(job_id).id == job_id
    finally:
        first.close()
        second.close()
