"""The LogWriter: what reaches the log file for a given byte stream, however it is chunked."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobcore.base.progress_parse import WANTED
from jobcore.base.redact import Redactor
from jobcore.state.live_line import LiveLine, read_live
from jobcore.worker.logwriter import MAX_LINE, SNAPSHOT_INTERVAL_S, LogWriter


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


# -- the chunked pipeline: the lines a plain redirect keeps --------------------------------------


def _random_lines(rng: random.Random, size: int) -> bytes:
    """Lines of random bytes (no \\r, no ESC: those are rewrites, not lines), some with what
    sends a line down the slow path (``::`` inside, a tqdm-like ``%|``, an ``[00:12``)."""
    alphabet = bytes(b for b in range(256) if b not in b"\r\n\x1b")
    extras = [b"", b"", b"", b" std::io ", b" 50%|## ", b" [00:12<", b"\t", b"\xc3\xa9"]
    out = bytearray()
    while len(out) < size:
        length = rng.choice([0, 1, 5, 20, 70, 70, 70, 200, 1500, 9000])
        line = bytes(rng.choices(alphabet, k=length)).lstrip(b": \t")
        out += line[: length // 2] + rng.choice(extras) + line[length // 2 :] + b"\n"
    return bytes(out)


def _cut_everywhere(rng: random.Random, data: bytes) -> list[bytes]:
    """Chunks of random sizes (1 byte to 64 KiB): nearly every boundary splits a line."""
    chunks, pos = [], 0
    while pos < len(data):
        step = rng.choice([1, 2, 7, 100, 4096, 65536, rng.randint(1, 65536)])
        chunks.append(data[pos : pos + step])
        pos += step
    return chunks


def test_chunked_output_keeps_exactly_the_lines_of_a_redirect(tmp_path: Path) -> None:
    """10 MB of random lines fed at random cut points, with a progress parser watching and
    the command going quiet now and then: the log is byte for byte what ``> file`` keeps."""
    rng = random.Random(18)
    data = _random_lines(rng, 10 * 1024 * 1024)
    seen: list[bytes] = []

    def watch(line: bytes) -> bool:
        seen.append(line)
        return False

    path = tmp_path / "out.log"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    try:
        writer = LogWriter(fd, watch, clock=FakeClock(), wants=WANTED)
        for chunk in _cut_everywhere(rng, data):
            writer.feed(chunk)
            if rng.random() < 0.05:
                writer.idle()  # a partial line shown early must not be written twice
        writer.close()
    finally:
        os.close(fd)
    assert path.read_bytes() == data
    wanted = [line for line in data.split(b"\n") if b"::" in line or b"%|" in line]
    assert [line for line in seen if b"::" in line or b"%|" in line] == wanted


@settings(max_examples=300, deadline=None)
@given(st.randoms(use_true_random=False), st.text("abcxyz019 é-", min_size=1, max_size=12))
def test_any_cut_of_prefixed_masked_lines_is_the_whole(folder: Path, rng, value) -> None:
    """A batch item's lines all carry its prefix and a secret is masked wherever a read
    happens to split it, as when the output came in one piece."""
    secret = ("S3cr3t-" + value).encode()
    lines = [
        rng.choice([b"plain", b"", b"key=" + secret + b" end", b"::total 3", secret * 2])
        for _ in range(rng.randint(1, 30))
    ]
    data = b"\n".join(lines) + b"\n"
    redact = Redactor([secret.decode()])

    def feed(chunks: list[bytes]) -> bytes:
        path = folder / "prefixed.log"
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
        try:
            writer = LogWriter(fd, prefix=b"[it] ", redact=redact, clock=FakeClock())
            for chunk in chunks:
                writer.feed(chunk)
            writer.close()
        finally:
            os.close(fd)
        return path.read_bytes()

    cuts = sorted(rng.sample(range(len(data) + 1), min(len(data), 6)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    whole, split = feed([data]), feed(chunks)
    assert split == whole
    assert secret not in split
    assert split.splitlines() == [b"[it] " + redact(line) for line in lines]


def test_an_item_remembers_its_last_line_for_its_error(log_file: tuple[int, Path]) -> None:
    fd, _ = log_file
    writer = LogWriter(fd, prefix=b"[a] ", clock=FakeClock())
    writer.feed(b"working\nError: disk quota exceeded\n\n  \n")
    assert writer.last_line == b"Error: disk quota exceeded"
    writer.feed(b"\rretrying 3/5")
    writer.close()
    assert writer.last_line == b"retrying 3/5"


# -- cursor-up redraws are rewrites: snapshots, not lines ----------------------------------------


def _nested_bars(clock: FakeClock, writer: LogWriter, epochs: int, batches: int) -> None:
    """What ``for e in tqdm(...): for b in tqdm(..., leave=False)`` writes (tqdm 4.6x)."""
    for e in range(epochs):
        writer.feed(f"\repoch:  {e}/{epochs} |".encode())
        for b in range(batches + 1):
            clock.now += 0.1
            writer.feed(f"\n\rbatch: {b}/{batches} |{'#' * b}\x1b[A".encode())
        writer.feed(b"\n\r" + b" " * 30 + b"\x1b[A")  # leave=False: the inner bar erases itself
    writer.feed(f"\repoch:  {epochs}/{epochs} |done\n".encode())


def test_nested_bars_leave_snapshots_not_a_line_per_redraw(log_file: tuple[int, Path]) -> None:
    """50 epochs of 100 batches over 500 s: one snapshot of both bars per interval, then the
    final state; the lines around the bars stay in order."""
    fd, path = log_file
    clock = FakeClock()
    rows: list[int] = []
    writer = LogWriter(fd, lambda line: rows.append(writer.row) and False, clock=clock)
    writer.feed(b"loading data\n")
    _nested_bars(clock, writer, epochs=50, batches=100)
    writer.feed(b"saved model.pt\n")
    writer.close()
    lines = path.read_bytes().splitlines()
    print(f"5,050 redraws of two bars over {clock.now:.0f} s -> {len(lines)} log lines")
    assert lines[0] == b"loading data" and lines[1].startswith(b"epoch:  0/50")
    assert lines[-2:] == [b"epoch:  50/50 |done", b"saved model.pt"]
    assert len(lines) <= 2 * clock.now / SNAPSHOT_INTERVAL_S + 4
    assert len(lines) >= clock.now / SNAPSHOT_INTERVAL_S  # snapshots do happen
    assert any(line.startswith(b"batch: ") for line in lines)  # inner bar in the snapshots
    assert not any(b"\x1b[A" in line for line in lines)  # the movement is not a line's byte
    assert set(rows) == {0, 1}  # the outer bar is row 0, the inner one row 1


def test_a_redrawn_list_of_lines_leaves_its_final_state(log_file: tuple[int, Path]) -> None:
    """docker pull style: three lines, then ``ESC[3A`` and all three again, many times."""
    fd, path = log_file
    clock = FakeClock()
    writer = LogWriter(fd, clock=clock)
    writer.feed(b"Pulling app\n")
    for pct in range(0, 101, 5):
        clock.now += 1
        layers = b"".join(b"\x1b[2Klayer %d: %d%%\n" % (n, pct) for n in range(3))
        writer.feed((b"\x1b[3A" if pct else b"") + layers)
    writer.feed(b"Status: downloaded\n")
    writer.close()
    lines = path.read_bytes().splitlines()
    assert lines[0] == b"Pulling app"
    assert lines[-4:] == [
        b"\x1b[2Klayer 0: 100%",
        b"\x1b[2Klayer 1: 100%",
        b"\x1b[2Klayer 2: 100%",
        b"Status: downloaded",
    ]
    assert len(lines) <= 1 + 3 + 3 * clock.now / SNAPSHOT_INTERVAL_S + 4


def test_cursor_up_split_across_reads_is_still_a_movement(tmp_path: Path) -> None:
    stream = b"a\nbar 1\x1b[1A\nbar 2\x1b[1A\nbar 3\nafter\n"
    whole, _ = render([stream], tmp_path / "a.log", on_line=None)
    split, _ = render([stream[i : i + 1] for i in range(len(stream))], tmp_path / "b.log", None)
    assert whole == split
    assert whole.splitlines()[-2:] == [b"bar 3", b"after"]
    assert b"bar 2" not in whole
