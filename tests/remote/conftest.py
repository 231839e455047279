"""Fixtures of the remote tests: one real sshd per test module serving hosts ``a`` and ``b``
(two state folders) and ``nojc`` (no jobcore on its PATH); the real ssh client reaches them."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import HomeCLI, kill_all_of
from tests.remote.sshd import SshServer, unavailable


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    why = unavailable()
    if why:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("sshd")
    homes = {name: root / f"state-{name}" for name in ("a", "b", "nojc")}
    for home in homes.values():
        home.mkdir(mode=0o700)
    server = SshServer(root, homes)
    server.start()
    saved = os.environ.get("JOBCORE_SSH")
    os.environ["JOBCORE_SSH"] = server.ssh_command
    try:
        yield server
    finally:
        server.stop()  # ends the shared connections too: their ssh masters see the host go
        for home in homes.values():
            kill_all_of(home)
        if saved is None:
            os.environ.pop("JOBCORE_SSH", None)
        else:
            os.environ["JOBCORE_SSH"] = saved


@pytest.fixture
def ssh_env(sshd: SshServer, monkeypatch: pytest.MonkeyPatch) -> SshServer:
    """The server, with ``$JOBCORE_SSH`` pointing at its config for this test (and its
    subprocesses), and its state folders emptied of jobs' processes after the test."""
    monkeypatch.setenv("JOBCORE_SSH", sshd.ssh_command)
    monkeypatch.setenv("NO_COLOR", "1")
    if sshd.proc is None:
        sshd.start()
    yield sshd
    for home in sshd.homes.values():
        kill_all_of(home)


@pytest.fixture
def host_a(ssh_env: SshServer) -> HomeCLI:
    """The real CLI run directly on host ``a``'s state folder (as a user logged in there)."""
    return HomeCLI(ssh_env.homes["a"])


@pytest.fixture
def host_b(ssh_env: SshServer) -> HomeCLI:
    return HomeCLI(ssh_env.homes["b"])
