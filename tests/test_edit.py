"""``jobcore edit``: change a queued or paused job, by options or in $EDITOR."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from jobcore.state.paths import StateDir
from tests.conftest import CLI, run_cli_in, wait_for


def test_edit_a_waiting_job_runs_the_edited_command(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("sh", "-c", "echo old", opts=("--delay", "1h", "--env", "DROP=1"))
    wait_for(lambda: cli.show(job_id)["waiting_on"] == "delay")  # its worker waits with a copy
    cli(
        "edit", job_id, "--command", "sh -c 'echo new $MODE ${DROP:-gone}'", "--name", "fresh",
        "--priority", "5", "--env", "MODE=fast", "--unset-env", "DROP",
    )  # fmt: skip
    data = cli.show(job_id)
    assert (data["status"], data["name"], data["priority"]) == ("queued", "fresh", 5)
    assert data["env"] == {"MODE": "fast"} and data["not_before"] is not None
    cli("edit", job_id, "--delay", "0")
    cli.wait_status(job_id, {"completed"})
    log = state.log_path(job_id).read_text()
    assert "new fast gone" in log and "old" not in log
    kinds = [e["kind"] for e in json.loads(cli("events", "--json", job_id).stdout)]
    assert kinds.count("edited") == 2 and kinds.count("started") == 1


def test_edit_a_paused_job_then_resume(cli: CLI, state: StateDir, tmp_path: Path) -> None:
    job_id = cli.run("sh", "-c", "pwd; sleep 300")
    cli.wait_command(job_id)
    cli("stop", "--grace", "0", job_id)
    cli("edit", job_id, "--cwd", str(tmp_path), "--command", "pwd")
    cli("resume", job_id)
    cli.wait_status(job_id, {"completed"})
    assert str(tmp_path) in state.log_path(job_id).read_text()


def test_edit_refuses_running_and_finished_jobs_and_bad_values(cli: CLI) -> None:
    running = cli.run("sleep", "300")
    cli.wait_command(running)
    proc = cli("edit", running, "--name", "x", check=False)
    assert proc.returncode == 1 and "only queued or paused" in proc.stderr
    waiting = cli.run("true", opts=("--delay", "1h"))
    for argv, code, needle in (
        (["--priority", str(2**40)], 2, "priority"),
        (["--command", "no-such-program-xyz"], 1, "command not found"),
        (["--cwd", "/no/such/dir"], 1, "cwd does not exist"),
        (["--after", waiting], 2, "itself"),
        (["--delay", "5000d"], 2, "--delay"),
        (["--env", "NOEQUALS"], 2, "NAME=VALUE"),
    ):
        proc = cli("edit", waiting, *argv, check=False)
        assert proc.returncode == code and needle in proc.stderr, (argv, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert cli.show(waiting)["command"] == ["true"]
    cli("kill", running, waiting)


FAKE_EDITOR = r"""#!/bin/sh
# The first time: break the TOML. The second: keep what it was shown, then fix the form.
n=$(cat "$COUNTER" 2>/dev/null || echo 0); echo $((n + 1)) > "$COUNTER"
cp "$1" "$SEEN.$n"
if [ "$n" = 0 ]; then echo 'name = "unclosed' >> "$1"; exit 0; fi
grep -v '^name = ' "$1" | grep -v '^priority = ' | grep -v '^# error' > "$1.new"
{ echo 'name = "from-editor"'; echo 'priority = 7'; cat "$1.new"; } > "$1"
"""


def test_edit_in_editor_reopens_on_a_syntax_error(cli: CLI, tmp_path: Path) -> None:
    editor = tmp_path / "fake-editor"
    editor.write_text(FAKE_EDITOR)
    editor.chmod(0o755)
    job_id = cli.run("true", opts=("--delay", "1h", "--name", "before"))
    env = {
        **os.environ,
        "EDITOR": str(editor),
        "COUNTER": str(tmp_path / "n"),
        "SEEN": str(tmp_path / "seen"),
    }
    env.pop("VISUAL", None)
    run_cli_in(env, "edit", job_id)
    first = (tmp_path / "seen.0").read_text()
    assert 'name = "before"' in first and 'command = [\n    "true",\n]' in first
    second = (tmp_path / "seen.1").read_text()
    assert second.startswith("# error: not valid TOML")
    data = cli.show(job_id)
    assert (data["name"], data["priority"], data["command"]) == ("from-editor", 7, ["true"])
    cli("kill", job_id)


def test_an_emptied_form_changes_nothing(cli: CLI, tmp_path: Path) -> None:
    job_id = cli.run("true", opts=("--delay", "1h", "--name", "keep"))
    env = {**os.environ, "EDITOR": "truncate -s 0"}
    env.pop("VISUAL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "jobcore", "edit", job_id],
        env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0 and "unchanged" in proc.stderr
    assert cli.show(job_id)["name"] == "keep"
    cli("kill", job_id)
