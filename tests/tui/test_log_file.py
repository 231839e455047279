"""The log view's file layer: read from the end, grown backwards, followed, searched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jobtui.log_file import BLOCK, MAX_LINE, SCAN_LIMIT, LogFile


def opened(path: Path) -> LogFile:
    log = LogFile(path)
    log.open()
    return log


def back(log: LogFile, lines: int, down_to: int | None = None) -> int:
    return log.prepend(*log.scan_back(lines, down_to))


@pytest.fixture
def numbered(tmp_path: Path) -> Path:
    """10,000 numbered lines, about 20 blocks of reading backwards."""
    path = tmp_path / "output.log"
    path.write_text("".join(f"line {i:05d} {'x' * 120}\n" for i in range(10_000)))
    return path


def test_opening_reads_only_the_end_and_scrolling_back_reads_more(numbered: Path) -> None:
    log = opened(numbered)
    assert back(log, 50) >= 50
    assert not log.complete and log.top > os.path.getsize(numbered) - 2 * BLOCK
    assert log.line(len(log) - 1).startswith("line 09999")
    first = log.line(0)
    back(log, 100)
    assert log.line(0) < first  # earlier lines came in front
    back(log, 0, down_to=0)
    assert log.complete and len(log) == 10_000 and log.line(0).startswith("line 00000")


def test_search_goes_both_ways_and_indexes_back_to_a_match(numbered: Path) -> None:
    log = opened(numbered)
    back(log, 20)
    offset = log.search("LINE 00042", log.end, forward=False)  # any case, far before the index
    assert offset is not None and offset < log.top
    back(log, 0, down_to=offset)
    assert log.line(log.line_of(offset)).startswith("line 00042")
    later = log.search("line 0004", log.starts[log.line_of(offset) + 1], forward=True)
    assert later is not None and log.line(log.line_of(later)).startswith("line 00043")
    assert log.search("no such text", 0, forward=True) is None
    assert log.search("no such text", log.end, forward=False) is None


def test_new_output_and_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    path.write_bytes(b"one\ntwo")  # the last line is still being written
    log = opened(path)
    back(log, 10)
    assert [log.line(i) for i in range(len(log))] == ["one", "two"]
    with path.open("ab") as out:
        out.write(b" more\nthree\n")
    starts, size, truncated = log.scan_forward()
    log.append(starts, size)
    assert not truncated
    assert [log.line(i) for i in range(len(log))] == ["one", "two more", "three"]
    with path.open("ab") as out:
        out.write(b"four\n")
    log.append(*log.scan_forward()[:2])
    assert log.line(len(log) - 1) == "four"
    path.write_bytes(b"fresh\n")
    assert log.scan_forward()[2]  # it shrank: the view opens it again


def test_an_empty_log_then_output(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    path.write_bytes(b"")
    log = opened(path)
    back(log, 10)
    assert len(log) == 0 and log.complete
    path.write_bytes(b"hello\n")
    log.append(*log.scan_forward()[:2])
    assert [log.line(i) for i in range(len(log))] == ["hello"]


def test_a_symlinked_log_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    target.write_text("x\n")
    link = tmp_path / "output.log"
    link.symlink_to(target)
    with pytest.raises(Exception, match="symlink"):
        opened(link)


def test_a_log_of_one_endless_line_is_read_a_bounded_stretch_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    path.write_bytes(b"y" * (3 * SCAN_LIMIT) + b"\nlast\n")
    log = opened(path)
    back(log, 10)
    assert log.top > 0 and log.line(len(log) - 1) == "last"
    assert len(log.line(0)) == MAX_LINE  # a cut piece of the endless line, drawn cut


def item_log(path: Path, lines: int) -> list[str]:
    """Two items' lines interleaved with the batch's own, of lengths that put prefixes across
    block edges; returns item a's lines, as ``logs --item a`` shows them."""
    rows = []
    for i in range(lines):
        who = ("[a] ", "[b] ", "")[i % 3 if i % 7 else 1]
        rows.append(f"{who}row {i} {'y' * (i * 37 % 150)}")
    path.write_text("".join(row + "\n" for row in rows))
    return [row for row in rows if row.startswith("[a] ")]


def test_an_item_filter_indexes_only_its_lines_back_to_the_start(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    wanted = item_log(path, 60_000)  # about 5 MB: several search blocks
    log = LogFile(path, (b"[a] ",))
    log.open()
    back(log, 20)
    assert not log.complete and 20 <= len(log) < len(wanted)
    assert [log.line(i) for i in range(len(log))] == wanted[-len(log) :]
    back(log, 0, down_to=0)
    assert log.complete
    assert [log.line(i) for i in range(len(log))] == wanted


def test_an_item_filter_follows_complete_lines_only(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    path.write_text("[a] one\n[b] two\n[a] thr")  # the last line is still being written
    log = LogFile(path, (b"[a] ", b"[a #3] "))
    log.open()
    back(log, 10)
    assert [log.line(i) for i in range(len(log))] == ["[a] one"]
    with path.open("ab") as out:
        out.write(b"ee\n[b] four\n[a #3] five\n[")
    log.append(*log.scan_forward()[:2])
    assert [log.line(i) for i in range(len(log))] == ["[a] one", "[a] three", "[a #3] five"]
    with path.open("ab") as out:
        out.write(b"a] six\n")
    log.append(*log.scan_forward()[:2])
    assert log.line(len(log) - 1) == "[a] six"


def test_a_search_under_an_item_filter_skips_other_lines(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    path.write_text("[a] needle 1\n[b] needle 2\nneedle 3\n[a] x\n")
    log = LogFile(path, (b"[a] ",))
    log.open()
    back(log, 10)
    found = log.search("needle", log.end, forward=False)
    assert found is not None and log.line(log.line_of(found)) == "[a] needle 1"
    assert log.search("needle", len("[a] needle 1\n"), forward=True) is None
