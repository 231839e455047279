"""A hostile neighbour plants symlinks in the state folder: nothing outside it is ever written.

Each plant replaces one thing jobcore keeps (a job's log, record, live line or folder, the
``jobs/`` and ``slots/`` folders, a group's slot folder, the config file) with a link to a
decoy folder outside; then every command that could write there runs. The decoy is compared
byte for byte (names, contents, modes) before and after.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from tests.conftest import CLI

PLANTS = ("log", "record", "live", "job-folder", "jobs", "slots", "group-slots", "config")


def snapshot(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file below ``folder``: its mode and the hash of its content."""
    found = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        found[str(path.relative_to(folder))] = (st.st_mode, digest)
    return found


def decoy(tmp_path: Path, name: str) -> Path:
    """A folder outside the state folder with files named like the ones jobcore writes."""
    folder = tmp_path / f"decoy-{name}"
    folder.mkdir()
    for file in ("output.log", "job.json", "live", "mutex", "0.slot", "config.toml", "precious"):
        (folder / file).write_bytes(b"not yours\n")
    return folder


def plant(home: Path, job_id: str, what: str, target: Path) -> None:
    job = home / "jobs" / job_id
    places = {
        "log": job / "output.log",
        "record": job / "job.json",
        "live": job / "live",
        "job-folder": job,
        "jobs": home / "jobs",
        "slots": home / "slots",
        "group-slots": home / "slots" / "one",
        "config": home / "config.toml",
    }
    link = places[what]
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    else:
        link.unlink(missing_ok=True)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target / link.name if what in ("log", "record", "live", "config") else target)


def attack(cli: CLI, home: Path, job_id: str) -> None:
    """Every command that writes in the state folder, each allowed to fail."""
    env_job = {**os.environ, "JOBCORE_JOB_ID": job_id}
    cli("resume", job_id, check=False)
    cli("retry", job_id, check=False)
    cli("logs", job_id, check=False)
    cli("run", "--group", "one", "--", "sh", "-c", "echo hi", check=False)
    cli("config", "set", "grace", "3", check=False)
    cli("doctor", "--fix", check=False)
    cli("clean", check=False)
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "jobcore", "progress", "--error", "boom", "--advance", "1"],
        env=env_job,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_symlink_plants_write_nothing_outside(cli: CLI, home: Path, tmp_path: Path) -> None:
    cli("group", "add", "one", "--parallel", "1")
    writes = 0
    for what in PLANTS:
        job_id = cli.run("false", opts=("--group", "one"))
        cli.wait_status(job_id, {"failed"})
        target = decoy(tmp_path, what)
        before = snapshot(target)
        plant(home, job_id, what, target)
        attack(cli, home, job_id)
        after = snapshot(target)
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        writes += len(changed)
        assert not changed, (what, changed)
        # Undo the plant so the next round starts from a usable state folder.
        for link in [home / "jobs", home / "slots", home / "config.toml"]:
            if link.is_symlink():
                link.unlink()
        (home / "jobs").mkdir(mode=0o700, exist_ok=True)
        for entry in (home / "jobs").iterdir():
            if entry.is_symlink():
                entry.unlink()
        for link in (home / "slots").rglob("*") if (home / "slots").exists() else []:
            if link.is_symlink():
                link.unlink()
    print(f"symlink plants: {writes} writes outside the state folder ({len(PLANTS)} plants)")
    assert writes == 0
