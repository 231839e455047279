"""Masking text of a job: the quick "nothing to mask here" check never lets a token through."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jobcore.base.redact import Redactor, _patterns, mask_argv, mask_text

PIECES = [
    "https://",
    "user:",
    "p4ss",
    "@",
    "host",
    "/",
    " ",
    "Authorization: ",
    "BEARER ",
    "Bearer ",
    "token ",
    "ghp_",
    "GHP_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "AKIA",
    "ASIA",
    "AWS_SECRET_ACCESS_KEY=",
    "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0",
    "ABCDEFGHIJKLMNOP",
    "é",
    "=",
    ":",
]


def _every_pattern(data: bytes) -> bytes:
    for pattern, replacement in _patterns():
        data = pattern.sub(replacement, data)
    return data


@given(st.lists(st.sampled_from(PIECES), max_size=12))
def test_the_quick_check_never_skips_a_token(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert Redactor()(text.encode()) == _every_pattern(text.encode())
    assert mask_text(text) == _every_pattern(text.encode()).decode()


def test_commands_and_items_are_masked_by_shape_and_by_value() -> None:
    redact = Redactor.for_env({"API_TOKEN": "s3cr3tvalue", "HOME": "/home/me"}, [])
    assert redact.argv(["curl", "-H", "X-Key: s3cr3tvalue", "https://me:pw123@h/x"]) == [
        "curl",
        "-H",
        "X-Key: ***",
        "https://me:***@h/x",
    ]
    assert redact.text("/home/me/a") == "/home/me/a"
    assert mask_argv(["git", "clone", "https://me:pw123@h/x"]) == [
        "git",
        "clone",
        "https://me:***@h/x",
    ]
    assert mask_argv(["make", "-j4"]) == ["make", "-j4"]
