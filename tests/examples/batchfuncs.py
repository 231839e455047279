"""Functions that Python batch tests call per item (`--call tests.examples.batchfuncs:...`)."""

import os
from pathlib import Path

import jobcore


def record(item: str) -> dict[str, object]:
    """Append the item to $RECORD and return something JSON-able."""
    with open(os.environ["RECORD"], "a", encoding="utf-8") as fh:
        fh.write(item + "\n")
    if "bad" in item:
        raise ValueError(f"cannot handle {item}")
    return {"item": item, "length": len(item)}


def pause_once(item: str) -> None:
    """The first call pauses the job for $PAUSE_S seconds (default 1: a rate limit); later
    calls just record."""
    marker = Path(os.environ["RECORD"] + ".paused")
    if item == "3" and not marker.exists():
        marker.write_text("x")
        raise jobcore.Pause("rate limited", retry_after=float(os.environ.get("PAUSE_S", "1")))
    record(item)


def leave_a_child(item: str) -> int:
    """Leave `(sleep 0.2 &)` behind (an orphan the worker adopts), hold the batch open on
    item "hold" until $GO exists, and return a subprocess's own exit code (3)."""
    import subprocess
    import time

    subprocess.run(["sh", "-c", "(sleep 0.2 &)"], check=True)
    while item == "hold" and not os.path.exists(os.environ["GO"]):
        time.sleep(0.05)
    return subprocess.run(["sh", "-c", "sleep 0.01; exit 3"]).returncode


def record_env(item: str) -> None:
    """Record ``item=$FOO``; item 2 pauses the job once (a resume runs the rest)."""
    marker = Path(os.environ["RECORD"] + ".paused")
    if item == "2" and not marker.exists():
        marker.write_text("x")
        raise jobcore.Pause("rate limited")
    with open(os.environ["RECORD"], "a", encoding="utf-8") as fh:
        fh.write(f"{item}={os.environ.get('FOO')}\n")


def chatty(item: str) -> str:
    """Print, log and report its own progress; items with "bad" raise after speaking."""
    import logging

    import jobcore

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", force=True)
    print(f"hello from {item}")
    logging.getLogger("chatty").info("working on %s", item)
    for _ in jobcore.progress(range(300), desc="rows"):
        pass
    if "bad" in item:
        raise ValueError(f"cannot handle {item}")
    return item
