"""What the dashboard accepts from a host's stream, and the hosts a user can name (no sshd)."""

from __future__ import annotations

import json

import pytest

from jobcore.base.errors import UsageError
from jobcore.ops import remote
from jobtui.hosts import host_names, matches
from tests.conftest import CLI


def _line(**fields: object) -> str:
    return json.dumps({"schema": 1, "seq": 1, "kind": "heartbeat", "clock": 1.0, **fields})


def test_lines_that_are_not_the_stream_are_refused() -> None:
    for bad in ("", "not json", "[]", '{"kind": "snapshot"}', _line(seq="x"), _line(kind="other")):
        with pytest.raises(remote.StreamError):
            remote.parse_line(bad)
    with pytest.raises(remote.StreamError, match="upgrade jobcore here"):
        remote.parse_line(_line(schema=2))
    assert remote.parse_line(_line(host="gpu")).host == "gpu"


def test_a_job_id_from_a_host_is_never_a_path() -> None:
    cli_json = {"id": "ab3de", "status": "running", "command": ["x"], "created_at": None}
    assert remote.job_from_json(cli_json, 0.0).id == "ab3de"
    for hostile in ("../..", "a/b", "", None, 5, "ab\x1b[2J"):
        with pytest.raises(remote.StreamError):
            remote.job_from_json({**cli_json, "id": hostile}, 0.0)


def test_times_of_another_host_are_shifted_to_this_clock() -> None:
    data = {
        "id": "ab3de",
        "status": "running",
        "command": ["x"],
        "created_at": "2026-01-01T00:00:00.000+00:00",
        "started_at": "2026-01-01T00:00:10.000+00:00",
        "run_s": 5.0,
    }
    job = remote.job_from_json(data, shift=-3.0)
    assert job.started_at - job.created_at == 10.0
    assert job.elapsed(job.started_at + 1) == 6.0
    assert job.worker is None  # nothing of another host is ever signalled here


def test_the_hosts_shown_come_from_the_command_line_then_the_config(cli: CLI) -> None:
    cli("config", "set", "hosts", "build,gpu")
    from jobcore.state.config import load
    from jobcore.state.paths import resolve_home

    configured = load(resolve_home())["hosts"]
    assert host_names(["gpu", "laptop"], configured) == ["gpu", "laptop", "build"]
    with pytest.raises(UsageError):
        host_names(["-oProxyCommand=x"], [])
    proc = cli("config", "set", "hosts", "ok,-x", check=False)
    assert proc.returncode == 2 and "bad value for hosts" in proc.stderr


def test_ssh_never_prompts_and_shares_one_private_connection() -> None:
    argv = remote.jobcore_argv("gpu", ["logs", "it's; rm -rf ~"])
    assert argv[argv.index("--") + 1 :] == ["gpu", "jobcore logs 'it'\"'\"'s; rm -rf ~'"]
    options = [argv[i + 1] for i, word in enumerate(argv) if word == "-o"]
    assert "BatchMode=yes" in options and "ControlMaster=auto" in options
    path = next(o for o in options if o.startswith("ControlPath=")).removeprefix("ControlPath=")
    folder = remote.control_dir()
    assert path.startswith(f"{folder}/") and (folder.stat().st_mode & 0o777) == 0o700
    other = remote.jobcore_argv("gpu2", ["ls"])
    assert next(o for o in other if o.startswith("ControlPath=")) != f"ControlPath={path}"


def test_the_filter_matches_a_remote_job_by_its_host_too() -> None:
    data = {"id": "ab3de", "status": "running", "command": ["make"], "created_at": None}
    job = remote.job_from_json({**data, "name": "nightly"}, 0.0)
    assert matches(job, "gpu-box", "GPU-BOX", None)
    assert matches(job, "gpu-box", "night", None)
    assert not matches(job, "build", "gpu", None)
    assert not matches(job, "gpu-box", "", "renders")  # another group
