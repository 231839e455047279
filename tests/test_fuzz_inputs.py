"""Property-based tests of what people type and write: items, durations, the config file."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobcore.base.durations import parse_duration
from jobcore.base.errors import JobcoreError, UsageError
from jobcore.state import config
from jobcore.state.item_text import from_db, to_db
from jobcore.state.items import BOM, read_items
from jobcore.state.logs import item_prefix
from jobcore.state.paths import StateDir
from jobcore.worker.runners import fill_argv

line_text = st.text(st.characters(blacklist_characters="\r\n\0"), max_size=3000)
"""Any line of text, lone surrogates included (what a line that is not UTF-8 decodes to)."""
line_bytes = st.binary(max_size=300).map(lambda b: b.translate(None, b"\r\n\0"))


@given(st.lists(line_bytes, max_size=30))
def test_items_are_the_non_blank_lines_byte_for_byte(lines: list[bytes]) -> None:
    data = b"".join(line + b"\n" for line in lines)
    items = read_items(io.BytesIO(data), "FILE")  # what `open(FILE, "rb")` gives the CLI
    if lines and lines[0].startswith(BOM):  # a byte-order mark is not part of the first item
        lines = [lines[0][len(BOM) :], *lines[1:]]
    expected = [ln for ln in lines if ln.decode("utf-8", "surrogateescape").strip()]
    assert [i.encode("utf-8", "surrogateescape") for i in items] == expected
    assert [from_db(to_db(i)) for i in items] == items  # stored and read back exactly


@given(line_text.filter(str.strip), st.lists(st.text(max_size=20), max_size=5))
def test_the_item_is_one_argument_wherever_it_goes(item: str, extra: list[str]) -> None:
    template = ["cmd", *[e.replace("{}", "") for e in extra], "{}"]
    argv = fill_argv(template, item)
    assert argv[-1] == item and len(argv) == len(template)
    assert fill_argv(["cmd"], item) == ["cmd", item]
    assert len(item_prefix(item, 12345)) <= 63


@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from("smhdw")), min_size=1, max_size=4)
)
def test_durations_add_their_parts(parts: list[tuple[int, str]]) -> None:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = "".join(f"{n}{unit}" for n, unit in parts)
    assert parse_duration(text) == sum(n * units[unit] for n, unit in parts)


@given(st.text(max_size=30))
def test_any_duration_text_parses_or_is_a_usage_error(text: str) -> None:
    with contextlib.suppress(UsageError):
        assert parse_duration(text) >= 0


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)
@given(
    st.text(max_size=200)
    | st.sampled_from(
        [
            "grace = 3",
            "grace = -1",
            "keep = 'x'",
            "redact_env = ['A', 2]",
            "unknown = 1",
            "grace = 1e400",
            "keep = 5\nkeep = 6",
            "[section]\ngrace = 1",
            "on_done = true",
        ]
    )
)
def test_any_config_file_loads_or_is_refused_in_one_line(tmp_path: Path, text: str) -> None:
    state = StateDir(tmp_path)
    (tmp_path / config.CONFIG_NAME).write_text(text, encoding="utf-8")
    try:
        values = config.load(state)
    except JobcoreError as exc:
        assert "\n" not in str(exc).strip() or "TOML" in str(exc)
        return
    for name, key in config.KEYS.items():
        assert values[name] == key.default or key.check(values[name])


@pytest.mark.parametrize("key", sorted(config.KEYS))
@given(raw=st.text(max_size=40))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
def test_config_set_accepts_or_refuses_and_what_it_wrote_loads(
    tmp_path: Path, key: str, raw: str
) -> None:
    state = StateDir(tmp_path)
    try:
        config.set_value(state, key, raw)
    except UsageError:
        return
    assert config.KEYS[key].check(config.load(state)[key])
