"""Other machines as users name them: a Dask scheduler's address, an ssh host; checked in
one line before anything is created.

Light on purpose: the CLI and the config check them, never importing Dask (about a second).
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from jobcore.base.errors import JobcoreError, UsageError

LOCAL = "local"
"""``--cluster local``: run on this machine even where ``config set cluster`` says otherwise."""
DEFAULT_PORT = 8786
CONNECT_S = 3.0
"""How long launching waits for the scheduler to accept a connection."""


def check_address(text: str) -> str:
    """A scheduler address as Dask takes it (``tcp://host:port``, ``tls://``, or
    ``host:port``); a usage error in one line otherwise."""
    address = text.strip()
    if address == LOCAL:
        return address
    if "://" not in address:
        address = f"tcp://{address}"
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError:
        raise UsageError(f"--cluster expects tcp://HOST:PORT, got {text!r}") from None
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or parts.path or parts.query:
        raise UsageError(f"--cluster expects tcp://HOST:PORT, got {text!r}")
    return f"{parts.scheme}://{_host(parts.hostname)}:{port or DEFAULT_PORT}"


def _host(name: str) -> str:
    return f"[{name}]" if ":" in name else name


def check_reachable(address: str) -> None:
    """Refuse a scheduler that does not accept a connection, in one line."""
    parts = urlsplit(address)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=CONNECT_S):
            pass
    except OSError as exc:
        why = exc.strerror or type(exc).__name__.replace("Error", " error").lower()
        raise JobcoreError(
            f"cannot reach the Dask scheduler at {address}: {why} "
            "(start one with `dask scheduler`, workers with `dask worker ADDRESS`)"
        ) from None


def check_host(host: str) -> str:
    """``host`` if ssh will read it as a destination and nothing else; a usage error otherwise."""
    if not host or host.startswith("-"):
        raise UsageError(f"bad host {host!r}: an ssh destination never starts with '-'")
    if any(c.isspace() or ord(c) < 32 or c == "/" for c in host):
        raise UsageError(f"bad host {host!r}: no spaces, control characters or '/' in a host")
    return host
