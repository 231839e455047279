"""``jobcore --host HOST COMMAND`` through a real sshd: the command runs there, for scripts."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import CLI, HomeCLI
from tests.remote.sshd import SshServer


def test_a_command_runs_on_the_host_named(cli: CLI, host_a: HomeCLI, host_b: HomeCLI) -> None:
    on_a = host_a.run("sleep", "30")
    listed = json.loads(cli("--host", "a", "ls", "--json").stdout)
    assert [job["id"] for job in listed] == [on_a]
    assert json.loads(cli("--host", "b", "ls", "--json").stdout) == []
    assert cli.ls() == []  # nothing happened here
    assert cli("--host", "a", "stop", on_a).returncode == 0
    assert host_a.show(on_a)["status"] == "paused"


def test_arguments_reach_the_host_exactly_as_given(
    cli: CLI, host_a: HomeCLI, tmp_path: Path
) -> None:
    """The remote shell gets a quoted command line: nothing in an argument is run by it."""
    tmp_path = tmp_path / "traps"
    tmp_path.mkdir()
    hostile = f"$(touch {tmp_path}/dollar) `touch {tmp_path}/tick`; touch {tmp_path}/semi"
    job_id = cli(
        "--host", "a", "run", "-q", "--name", hostile, "--", "printf", "%s\\n", hostile, "it's"
    ).stdout.strip()
    done = host_a.wait_status(job_id, {"completed"})
    assert done["name"] == hostile
    assert done["command"] == ["printf", "%s\\n", hostile, "it's"]
    assert host_a("logs", job_id).stdout == f"{hostile}\nit's\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    shown = json.loads(cli("--host=a", "show", "--json", job_id[:3]).stdout)
    assert shown["id"] == job_id


def test_a_host_that_looks_like_an_option_is_refused(cli: CLI, tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    for host in (f"-oProxyCommand=touch {planted}", "-F/etc/passwd", "a b", "", "x/y"):
        proc = cli(f"--host={host}", "ls", check=False)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "bad host" in proc.stderr
    proc = cli("--host", "-oProxyCommand=sh", "ls", check=False)
    assert proc.returncode == 2 and "never starts with '-'" in proc.stderr
    assert not planted.exists()


def test_a_host_without_jobcore_says_how_to_install_it(cli: CLI, ssh_env: SshServer) -> None:
    proc = cli("--host", "nojc", "ls", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "jobcore: error: jobcore is not installed on nojc (or not on the PATH of a "
        "non-interactive ssh session there): run `pipx install jobcore` on nojc"
    ]


def test_why_a_host_cannot_be_reached(cli: CLI, ssh_env: SshServer) -> None:
    expected = {
        "down": "connection refused",
        "noauth": "authentication failed",
        "newkey": "host key is unknown or has changed",
    }
    for host, why in expected.items():
        proc = cli("--host", host, "ls", check=False)
        assert proc.returncode == 1, proc
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"jobcore: error: cannot reach {host}: ")
        assert why in lines[0], lines


def test_the_remote_exit_code_and_error_come_back(cli: CLI, ssh_env: SshServer) -> None:
    proc = cli("--host", "a", "show", "zzzzz", check=False)
    assert proc.returncode == 1
    assert "no job" in proc.stderr and proc.stderr.count("\n") == 1
