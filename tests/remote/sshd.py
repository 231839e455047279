"""A real OpenSSH server on 127.0.0.1 for the remote tests, serving several "hosts".

Each host is a ``Host`` alias of a generated ssh_config (the real ``ssh`` client reads it
through ``$JOBCORE_SSH``), all on one ``sshd`` with its own host key and authorized key. An
alias picks its state folder and its PATH by ``SetEnv``: the server accepts those variables
and a ``ForceCommand`` wrapper puts the test venv's bin folder first on the PATH (the login
shell's rc files run before it and may rewrite PATH), so ``jobcore`` is found there as on a
machine where it is installed; the ``nojc`` alias gets no such folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil

from tests.conftest import wait_for

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
PRIVSEP_DIR = Path("/run/sshd")
"""sshd refuses to start without its privilege separation folder (Debian makes it at boot)."""


def unavailable() -> str | None:
    """Why no test sshd can run here (None: it can)."""
    if SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "OpenSSH (sshd, ssh, ssh-keygen) is not installed: apt-get install openssh-server"
    if not PRIVSEP_DIR.is_dir():
        try:
            PRIVSEP_DIR.mkdir(mode=0o755, parents=True)
        except OSError:
            return f"sshd needs {PRIVSEP_DIR}, which cannot be created here"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )


class SshServer:
    """One sshd and the client config of its host aliases."""

    def __init__(self, root: Path, homes: dict[str, Path]) -> None:
        self.root = root
        self.homes = homes
        """State folder of each alias (the ``nojc`` alias has one too, and no jobcore)."""
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.bin_dir = str(Path(sys.executable).parent)
        _keygen(root / "host_key")
        _keygen(root / "user_key")
        shutil.copy(root / "user_key.pub", root / "authorized_keys")
        wrapper = root / "wrapper"
        wrapper.write_text(
            "#!/bin/sh\n"
            '[ -n "$JC_TEST_PATH" ] && PATH="$JC_TEST_PATH:$PATH" && export PATH\n'
            'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n'
        )
        wrapper.chmod(0o755)
        (root / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\n"
            f"HostKey {root / 'host_key'}\nPidFile {root / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {root / 'authorized_keys'}\n"
            "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            "AcceptEnv JOBCORE_HOME JC_TEST_PATH JOBCORE_WATCH_HEARTBEAT\n"
            "MaxSessions 64\nMaxStartups 64\nLogLevel ERROR\n"
            f"ForceCommand {wrapper}\n"
        )
        user = os.environ.get("USER") or psutil.Process().username()
        blocks = []
        for alias, home in homes.items():
            path = "" if alias == "nojc" else f" JC_TEST_PATH={self.bin_dir}"
            blocks.append(
                f"Host {alias}\n  HostName 127.0.0.1\n  Port {self.port}\n  User {user}\n"
                f"  IdentityFile {root / 'user_key'}\n  IdentitiesOnly yes\n"
                "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
                f"  SetEnv JOBCORE_HOME={home}{path}\n"
            )
        _keygen(root / "stranger_key")
        (root / "known_hosts").write_text("")
        blocks += [
            # nothing listens on this port
            f"Host down\n  HostName 127.0.0.1\n  Port {_free_port()}\n",
            # a key the server does not know
            f"Host noauth\n  HostName 127.0.0.1\n  Port {self.port}\n  User {user}\n"
            f"  IdentityFile {root / 'stranger_key'}\n  IdentitiesOnly yes\n"
            "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n",
            # a host key nobody accepted yet
            f"Host newkey\n  HostName 127.0.0.1\n  Port {self.port}\n  User {user}\n"
            f"  IdentityFile {root / 'user_key'}\n  IdentitiesOnly yes\n"
            f"  StrictHostKeyChecking yes\n  UserKnownHostsFile {root / 'known_hosts'}\n",
        ]
        self.config = root / "ssh_config"
        self.config.write_text("\n".join(blocks))

    @property
    def ssh_command(self) -> str:
        """What ``$JOBCORE_SSH`` is set to."""
        return f"ssh -F {self.config}"

    def start(self) -> None:
        """Start sshd and wait until it accepts connections."""
        log = open(self.root / "sshd.log", "ab")  # noqa: SIM115 - kept by the process
        self.proc = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(self.root / "sshd_config")],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        log.close()
        wait_for(self._listening, timeout=10)

    def _listening(self) -> bool:
        """Whether sshd accepts a connection yet; its log as the error if it died instead."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError((self.root / "sshd.log").read_text())
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
        except OSError:
            return False
        return True

    def stop(self) -> None:
        """Kill sshd and every session it serves: to its clients the host is gone."""
        if self.proc is None:
            return
        try:
            procs = [psutil.Process(self.proc.pid)]
            procs += procs[0].children(recursive=True)
        except psutil.NoSuchProcess:
            procs = []
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGKILL)
        psutil.wait_procs(procs, timeout=5)
        self.proc.wait()
        self.proc = None

    def sessions(self) -> list[psutil.Process]:
        """The processes sshd runs for its clients (shells, remote jobcore commands)."""
        if self.proc is None:
            return []
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
