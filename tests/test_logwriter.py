"""The LogWriter: what reaches the log file for a given byte stream, however it is chunked."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobcore.live_line import LiveLine, read_live
from jobcore.logwriter import MAX_LINE, SNAPSHOT_INTERVAL_S, LogWriter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    path = tmp_path / "out.log"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    yield fd, path
    os.close(fd)


def _is_marker(line: bytes) -> bool:
    return line.startswith(b"::")


def render(
    chunks: list[bytes],
    path: Path,
    on_line: Callable[[bytes], bool] | None = _is_marker,
) -> tuple[bytes, list[bytes]]:
    """Feed ``chunks`` to a fresh LogWriter on a fresh file; the log and the lines handled."""
    seen: list[bytes] = []

    def handler(line: bytes) -> bool:
        seen.append(line)
        return on_line(line) if on_line else False

    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    try:
        writer = LogWriter(fd, handler, clock=FakeClock())
        for chunk in chunks:
            writer.feed(chunk)
        writer.close()
    finally:
        os.close(fd)
    return path.read_bytes(), seen


def test_lines_markers_and_partial_last_line(tmp_path: Path) -> None:
    log, seen = render([b"one\ntwo\r\n::progress 1/2\nthree"], tmp_path / "a.log")
    assert log == b"one\ntwo\nthree\n"  # marker kept out, missing final newline added
    assert b"::progress 1/2" in seen


def test_idle_shows_a_partial_line_once(log_file: tuple[int, Path]) -> None:
    fd, path = log_file
    writer = LogWriter(fd, clock=FakeClock())
    writer.feed(b"Password: ")
    writer.idle()
    assert path.read_bytes() == b"Password: "
    writer.idle()
    writer.feed(b"ok\n")
    writer.close()
    assert path.read_bytes() == b"Password: ok\n"


def test_carriage_return_bar_leaves_few_lines(log_file: tuple[int, Path]) -> None:
    """A bar redrawn 10,000 times over 1,000 s leaves one snapshot per interval + the end."""
    fd, path = log_file
    clock = FakeClock()
    writer = LogWriter(fd, clock=clock)
    writer.feed(b"start\n")
    for i in range(10_000):
        clock.now += 0.1
        writer.feed(f"\r{i / 100:.2f}% working".encode())
    writer.feed(b"\rdone 100%\n")
    writer.close()
    lines = path.read_bytes().splitlines()
    print(f"10,000 redraws over 1,000 s -> {len(lines)} log lines")
    assert lines[0] == b"start" and lines[-1] == b"done 100%"
    assert len(lines) <= 1000 / SNAPSHOT_INTERVAL_S + 3
    assert len(lines) >= 1000 / SNAPSHOT_INTERVAL_S - 2  # snapshots do happen


def test_crlf_split_across_reads_is_one_line_end(tmp_path: Path) -> None:
    """Regression: ``\\r`` at the end of one read and ``\\n`` at the start of the next was taken
    for a bar redraw, so a CRLF marker line leaked into the log depending on read sizes."""
    whole, _ = render([b"a\r\n::progress 1\r\nb\r\n"], tmp_path / "a.log")
    split, _ = render([b"a\r", b"\n::progress 1\r", b"\nb\r", b"\n"], tmp_path / "b.log")
    assert whole == split == b"a\nb\n"


def test_long_lines_split_at_max_line_whatever_the_reads(tmp_path: Path) -> None:
    """Regression: an over-long line was cut wherever a read happened to end, and a line read
    in one piece was followed by a spurious empty line."""
    data = b"x" * (2 * MAX_LINE + 100) + b"\nnext\n"
    whole, _ = render([data], tmp_path / "a.log")
    pieces = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    split, _ = render(pieces, tmp_path / "b.log")
    assert whole == split
    assert [len(line) for line in whole.split(b"\n")] == [MAX_LINE, MAX_LINE, 100, 4, 0]


_token = st.one_of(
    st.sampled_from([b"\n", b"\r", b"\r\n", b"::progress 3/9\n", b"::item x\r\n", b" ", b""]),
    st.binary(max_size=12),
    st.just(b"y" * 300),
)


@st.composite
def stream_and_cuts(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    data = b"".join(draw(st.lists(_token, max_size=40)))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    return data, chunks


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chunks")


@settings(max_examples=200, deadline=None)
@given(stream_and_cuts())
def test_any_chunking_gives_the_same_log(folder: Path, case) -> None:
    data, chunks = case
    whole, seen_whole = render([data], folder / "whole.log")
    split, seen_split = render(chunks, folder / "split.log")
    assert split == whole
    assert [s for s in seen_split if s] == [s for s in seen_whole if s]
    # Every line of the log is a line (or bar snapshot) of the input: nothing invented.
    pieces = set(data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"))
    for line in whole.split(b"\n")[:-1]:
        assert any(line in p for p in pieces)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=1, max_size=30), st.integers(0, 3))
def test_bar_redraws_leave_few_lines_for_any_timing(
    folder: Path, steps: list[int], extra_lines: int
) -> None:
    """However fast the bar moves, at most one snapshot per interval reaches the log."""
    path = folder / "bar.log"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    clock = FakeClock()
    try:
        writer = LogWriter(fd, clock=clock)
        for i, step in enumerate(steps):
            clock.now += step / 10
            writer.feed(f"\r{i}/{len(steps)} |{'#' * (i % 20)}".encode())
        writer.feed(b"\n" * extra_lines)
        writer.close()
    finally:
        os.close(fd)
    lines = path.read_bytes().splitlines()
    bound = clock.now / SNAPSHOT_INTERVAL_S + 2 + extra_lines
    assert len(lines) <= bound
    last = len(steps) - 1
    assert f"{last}/{len(steps)} |{'#' * (last % 20)}".encode() in lines  # the final state


def test_a_full_disk_loses_output_but_not_the_job(tmp_path) -> None:
    """Writes to /dev/full fail with ENOSPC: the writer counts, then reports, the loss."""
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        writer = LogWriter(full)
        writer.feed(b"first line\nsecond line\n")
        assert writer.lost == len(b"first line\nsecond line\n")
    finally:
        os.close(full)
    log = tmp_path / "log"
    writer.fd = os.open(log, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        writer.feed(b"after\n")
    finally:
        os.close(writer.fd)
    assert log.read_bytes() == b"jobcore: 23 bytes of output lost: the disk was full\nafter\n"
    assert writer.lost == 0


def test_live_line_follows_a_bar_between_snapshots(log_file: tuple[int, Path]) -> None:
    """The log holds one snapshot per interval; the live file holds the bar as it is now,
    at most every LIVE_INTERVAL_S, the newest state on idle, and is gone once the line ends."""
    fd, path = log_file
    live_path = path.with_name("live")
    clock = FakeClock()
    live = LiveLine(live_path, clock=clock)
    writer = LogWriter(fd, None, clock=clock, prefix=b"[a] ", live=live)
    for step in range(1, 6):
        clock.now = step * 0.1
        writer.feed(f"\rbar {step}/9".encode())
    assert read_live(live_path) == "[a] bar 1/9"  # the first state at once, then throttled
    clock.now = 1.0
    writer.feed(b"\rbar 6/9")
    assert read_live(live_path) == "[a] bar 6/9"
    writer.feed(b"\rbar 7/9")
    writer.idle()  # the command went quiet: its newest state is shown even within the interval
    assert read_live(live_path) == "[a] bar 7/9"
    assert b"bar 6" not in path.read_bytes()  # the log itself only gets snapshots
    writer.feed(b"\rbar 9/9\n")
    assert read_live(live_path) is None
    assert not live_path.exists()
    assert path.read_bytes().endswith(b"[a] bar 9/9\n")


def test_live_line_stays_away_for_plain_lines(log_file: tuple[int, Path]) -> None:
    fd, path = log_file
    live_path = path.with_name("live")
    writer = LogWriter(fd, None, clock=FakeClock(), live=LiveLine(live_path, clock=FakeClock()))
    writer.feed(b"one\ntwo\npartial")
    writer.idle()
    writer.close()
    assert not live_path.exists()
    assert path.read_bytes() == b"one\ntwo\npartial\n"


def test_a_live_line_left_by_a_dead_worker_is_dropped_by_the_next(tmp_path: Path) -> None:
    live_path = tmp_path / "live"
    live_path.write_bytes(b"bar 3/9 of a worker killed -9")
    LiveLine(live_path)
    assert read_live(live_path) is None
