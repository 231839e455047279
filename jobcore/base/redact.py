"""Keep credentials out of job logs: mask them in output before it reaches the disk.

Masked: passwords in URLs (``scheme://user:PASS@host``), ``Authorization``/``Bearer``
tokens, GitHub, GitLab, Slack and AWS-style tokens, and the values of environment variables
that are secrets by name (``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``, ``*API_KEY*``, …) or
named with ``--redact-env`` / the ``redact_env`` config key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache

from jobcore.base.scan import FirstOf, Needle, needles

MASK = b"***"
MIN_SECRET_LEN = 6
"""Shorter values are not masked: masking "1" or "yes" would ruin a log for nothing."""

SECRET_NAME = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_KEY|CREDENTIAL|ACCESS_KEY)", re.I
)


@cache
def _patterns() -> tuple[tuple[re.Pattern[bytes], bytes], ...]:
    """The token shapes, compiled on first use (the launch path only masks the record)."""
    return (
        (re.compile(rb"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@"), rb"\1***@"),
        (
            re.compile(rb"(?i)(authorization\s*[:=]\s*(?:bearer|basic|token)?\s*)[^\s'\",]+"),
            rb"\1***",
        ),
        (re.compile(rb"(?i)\b(bearer\s+)[A-Za-z0-9._~+/-]{8,}=*"), rb"\1***"),
        (re.compile(rb"\b(gh[pousr]_)[A-Za-z0-9]{20,}"), rb"\1***"),
        (re.compile(rb"\b(github_pat_)[A-Za-z0-9_]{20,}"), rb"\1***"),
        (re.compile(rb"\b(glpat-)[A-Za-z0-9_-]{20,}"), rb"\1***"),
        (re.compile(rb"\b(xox[abposr]-)[A-Za-z0-9-]{10,}"), rb"\1***"),
        (re.compile(rb"\b((?:AKIA|ASIA)[0-9A-Z]{4})[0-9A-Z]{12}\b"), rb"\1***"),
        (re.compile(rb"(?i)(aws_secret_access_key\s*[=:]\s*)[A-Za-z0-9/+=]{40}"), rb"\1***"),
    )


HINT = (
    r"://|authorization|bearer|gh[pousr]_|github_pat_|glpat-|xox[abposr]-"
    r"|akia|asia|aws_secret"
)
"""What every token shape contains (searched in lower case, which is much faster than a
case-blind pattern): text without any of these has nothing to mask."""


@cache
def _hints() -> tuple[Needle, ...]:
    return needles(HINT)


@cache
def _text_hint() -> re.Pattern[str]:
    return re.compile(HINT)


def compile_all() -> None:
    """Compile every shape now: a process that forks workers (the dispatcher) compiles them
    once for all of them, not once in each."""
    _patterns()
    _hints()
    _text_hint()


def secret_names(env: Mapping[str, str], listed: Iterable[str]) -> set[str]:
    """Names in ``env`` whose values are secrets: listed explicitly, or secret by name."""
    wanted = set(listed)
    return {name for name in env if name in wanted or SECRET_NAME.search(name)}


def mask_env(env: Mapping[str, str], listed: Iterable[str]) -> dict[str, str]:
    """``env`` with secret values replaced, for records and displays."""
    hidden = secret_names(env, listed)
    return {k: ("***" if k in hidden else v) for k, v in env.items()}


class Redactor:
    """Masks known patterns and the given secret values in a line of output."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        secrets = sorted(
            {v.encode() for v in values if len(v) >= MIN_SECRET_LEN}, key=len, reverse=True
        )
        self.secrets = secrets
        """Looked for one by one first: ``a|b`` as one pattern crawls over a chunk."""
        self.values = re.compile(b"|".join(re.escape(s) for s in secrets)) if secrets else None

    @classmethod
    def for_env(cls, env: Mapping[str, str], listed: Iterable[str]) -> Redactor:
        return cls(env[name] for name in secret_names(env, listed))

    def __call__(self, data: bytes) -> bytes:
        """``data`` masked: one or many lines (a chunk of output is masked in one call)."""
        if self.values is not None and any(secret in data for secret in self.secrets):
            data = self.values.sub(MASK, data)
        lower = data.lower()  # same length: positions in it are positions in data
        hints = FirstOf(_hints(), lower)
        pieces: list[bytes] = []
        pos = 0
        while (found := hints.at(pos)) >= 0:  # most chunks: a few fast searches, no more
            # Only the line with a hint goes through the token patterns, as when lines were
            # masked one by one.
            start = max(pos, data.rfind(b"\n", pos, found) + 1)
            end = data.find(b"\n", found)
            end = len(data) if end < 0 else end
            line = data[start:end]
            for pattern, replacement in _patterns():
                line = pattern.sub(replacement, line)
            pieces += (data[pos:start], line)
            pos = end
        if not pieces:
            return data
        pieces.append(data[pos:])
        return b"".join(pieces)

    def text(self, value: str) -> str:
        """``value`` masked: for text that is stored or shown (items, errors, commands)."""
        raw = value.encode("utf-8", "surrogateescape")
        if not any(secret in raw for secret in self.secrets) and not _text_hint().search(
            value.lower()
        ):
            return value  # one search, not the needles (compiled for a log, ~1 ms on a launch)
        masked = self(raw)
        return value if masked == raw else masked.decode("utf-8", "surrogateescape")

    def argv(self, argv: Sequence[str]) -> list[str]:
        """A command line masked argument by argument."""
        return [self.text(arg) for arg in argv]


@cache
def _shapes_only() -> Redactor:
    return Redactor()


def mask_text(value: str) -> str:
    """``value`` with the known token shapes masked (no job's secret values are known)."""
    return value if _text_hint().search(value.lower()) is None else _shapes_only().text(value)


def mask_argv(argv: Sequence[str]) -> list[str]:
    """A command line with the known token shapes masked (one search for most)."""
    if _text_hint().search("\0".join(argv).lower()) is None:
        return list(argv)
    return _shapes_only().argv(argv)
