"""Progress recognition: marker lines and tqdm bars, exact cases and properties.

The parser runs inside the worker on every output line, so it must never raise (a raise kills
the worker and orphans the command) and never report more done than its total.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tqdm import tqdm

from jobcore.base.progress_parse import (
    MAX_COUNT,
    ProgressUpdate,
    parse_line,
    parse_marker,
    parse_tqdm,
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("::progress 12/50 a", ProgressUpdate(done=12, total=50, item="a", is_marker=True)),
        ("::progress 12 b", ProgressUpdate(done=12, item="b", is_marker=True)),
        ("::progress +1 c d", ProgressUpdate(advance=1, item="c d", is_marker=True)),
        ("::progress 3", ProgressUpdate(done=3, is_marker=True)),
        ("::total 50", ProgressUpdate(total=50, is_marker=True)),
        ("::item some file.txt", ProgressUpdate(item="some file.txt", is_marker=True)),
        ("::error bad.mp4: no audio", ProgressUpdate(error="bad.mp4: no audio", is_marker=True)),
        ("::error", ProgressUpdate(error="error", is_marker=True)),
        ("::progress 4/5  ", ProgressUpdate(done=4, total=5, is_marker=True)),
    ],
)
def test_marker_lines(line: str, expected: ProgressUpdate) -> None:
    assert parse_marker(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "progress 1/2",
        "::progress",
        "::progress x/2",
        "::progress -1",
        "::total",
        "::total ten",
        "::total -5",
        "::total \u00b2",  # "²".isdigit() is True but int("²") raises
        "::total 1.5",
        "::bogus 1",
        ":: progress 1",
        "  ::progress 4/5",  # indented: output quoting a marker, not one
        "\t::error not mine",
    ],
)
def test_not_markers(line: str) -> None:
    assert parse_marker(line) is None


def test_marker_done_beyond_total_grows_the_total() -> None:
    """``12/5`` must not report done > total (the store would grow the total the same way)."""
    change = parse_marker("::progress 12/5 x")
    assert change is not None
    assert change.done == 12 and change.total == 12


def test_counts_beyond_sqlite_integers_are_not_progress() -> None:
    """A count SQLite cannot store would crash the worker's progress write: not progress."""
    big = str(MAX_COUNT + 1)
    assert parse_line(f"::progress {big}".encode()) is None
    assert parse_line(f"::total {big}".encode()) is None
    assert parse_line(f"::progress 1/{big}".encode()) is None
    assert parse_line(f"::progress {MAX_COUNT}".encode()) == ProgressUpdate(
        done=MAX_COUNT, is_marker=True
    )
    huge = "9" * 400  # float("9"*400) is inf: round(inf) raised OverflowError
    assert parse_line(f"50%|#####     | {huge}/{huge} [00:01<00:01, 1.0it/s]".encode()) is None
    assert parse_line(f"{huge}it [00:01, 3.00it/s]".encode()) is None


@pytest.mark.parametrize(
    ("line", "done", "total", "item"),
    [
        ("train:  40%|####      | 4/10 [00:02<00:03,  2.00it/s]", 4, 10, "train"),
        ("40%|####      | 4/10 [00:02<00:03,  2.00it/s]", 4, 10, None),
        ("dl: 15%|#5        | 1.5k/10.0k [00:01<00:05, 1.2kB/s]", 1500, 10000, "dl"),
        ("100%|##########| 10/10 [00:05<00:00,  2.00it/s]", 10, 10, None),
        ("scan: 37it [00:03, 12.1it/s]", 37, None, "scan"),
        ("1.2M [00:03, 400kB/s]", 1_200_000, None, None),
    ],
)
def test_tqdm_lines(line: str, done: int, total: int | None, item: str | None) -> None:
    change = parse_tqdm(line)
    assert change is not None
    assert (change.done, change.total, change.item) == (done, total, item)
    assert not change.is_marker


def test_real_tqdm_output_is_recognised() -> None:
    """Bars as the installed tqdm really prints them, with and without a total."""
    out = io.StringIO()
    with tqdm(total=40, desc="items", file=out, mininterval=0, ascii=True) as bar:
        for _ in range(40):
            bar.update(1)
    segments = [s for s in out.getvalue().replace("\n", "\r").split("\r") if s.strip()]
    parsed = [parse_line(s.encode()) for s in segments]
    assert all(p is not None for p in parsed), segments
    last = parsed[-1]
    assert last is not None and (last.done, last.total, last.item) == (40, 40, "items")
    assert [p.done for p in parsed if p] == sorted(p.done for p in parsed if p)

    out = io.StringIO()
    with tqdm(desc="open", file=out, mininterval=0, ascii=True) as bar:
        for _ in range(7):
            bar.update(1)
    last_line = [s for s in out.getvalue().replace("\n", "\r").split("\r") if s.strip()][-1]
    change = parse_line(last_line.encode())
    assert change is not None and (change.done, change.total, change.item) == (7, None, "open")


def test_plain_output_and_long_lines_are_not_progress() -> None:
    assert parse_line(b"compiling foo.c") is None
    assert parse_line(b"") is None
    assert parse_line(b"::progress 1/2 " + b"x" * 5000) is None  # over 4096 bytes: not parsed
    assert parse_line(b"\xff\xfe::progress 1") is None


def _check(change: ProgressUpdate | None) -> None:
    if change is None:
        return
    for value in (change.done, change.total):
        assert value is None or 0 <= value <= MAX_COUNT
    assert 0 <= change.advance <= MAX_COUNT
    if change.done is not None and change.total is not None:
        assert change.done <= change.total


_num = st.one_of(
    st.integers(min_value=0, max_value=10**25).map(str),
    st.from_regex(r"\A[0-9]{1,3}(\.[0-9]{1,3})?[kMGTP]?\Z"),
    st.text(alphabet="0123456789.kMG\u00b2\u0663", min_size=1, max_size=6),
)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_never_crash(raw: bytes) -> None:
    _check(parse_line(raw))


@settings(max_examples=400, deadline=None)
@given(
    verb=st.sampled_from(["progress", "total", "item", "error", "progres"]),
    sign=st.sampled_from(["", "+", "-"]),
    n=_num,
    total=st.one_of(st.none(), _num),
    item=st.text(max_size=20),
)
def test_marker_like_lines_never_crash_nor_overshoot(
    verb: str, sign: str, n: str, total: str | None, item: str
) -> None:
    line = f"::{verb} {sign}{n}" + (f"/{total}" if total is not None else "") + f" {item}"
    _check(parse_line(line.encode("utf-8", "surrogatepass")))


@settings(max_examples=400, deadline=None)
@given(
    desc=st.one_of(st.none(), st.text(max_size=15)),
    pct=st.integers(min_value=0, max_value=999),
    n=_num,
    total=st.one_of(st.none(), _num),
    unit=st.sampled_from(["", "it", "B", "kB/s", "it/s"]),
)
def test_tqdm_like_lines_never_crash_nor_overshoot(
    desc: str | None, pct: int, n: str, total: str | None, unit: str
) -> None:
    head = f"{desc}: " if desc is not None else ""
    if total is None:
        line = f"{head}{n}{unit} [00:03, 1.0{unit}]"
    else:
        line = f"{head}{pct}%|####      | {n}/{total} [00:01<00:02, 2.00{unit}]"
    _check(parse_line(line.encode("utf-8", "surrogatepass")))


@settings(max_examples=200, deadline=None)
@given(
    done=st.integers(0, 10**9),
    total=st.integers(0, 10**9),
    item=st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Zs")), max_size=20
    ),
)
def test_marker_round_trip(done: int, total: int, item: str) -> None:
    change = parse_line(f"::progress {done}/{total} {item}".encode())
    assert change is not None
    assert change.done == done and change.total == max(done, total)
    assert change.item == (item or None)  # no spaces in the item: no stripping question


def test_nested_tqdm_bars_the_outer_is_the_jobs_the_inner_the_current_items() -> None:
    """tqdm draws a nested bar a line lower and moves back up (ESC[A): not the job's count."""
    out = io.StringIO()
    for _ in tqdm(range(3), desc="epoch", file=out, mininterval=0, ascii=True):
        for _ in tqdm(range(4), desc="batch", file=out, mininterval=0, ascii=True, leave=False):
            pass
    segments = [s for s in out.getvalue().replace("\n", "\r").split("\r") if s.strip()]
    parsed = [p for p in (parse_line(s.encode()) for s in segments) if p is not None]
    counted = [p for p in parsed if p.done is not None]
    assert counted and all(p.total == 3 for p in counted), counted
    assert [p.done for p in counted] == sorted(p.done for p in counted)  # never resets
    assert counted[-1].done == 3
    inner = [p.item for p in parsed if p.done is None]
    assert "batch: 4/4" in inner and all(i and i.startswith("batch: ") for i in inner)
    assert parse_line(b"50%|##   | 2/4 [00:01<00:01, 2.00it/s]\x1b[2A") == ProgressUpdate(
        item="2/4"
    )
